import { decide as policyDecide, withGroupLimits, type Decision, type Observation } from '../../lib/policy';
import type { Settings } from '../../lib/settings';

export interface DecideInput {
  observation: Observation;
  settings: Settings;
}

/**
 * The pure policy, with the group's own limits applied on top of the settings:
 * Auto Scaling refuses a desired capacity outside [MinSize, MaxSize], so a
 * settings `max` above the group's MaxSize must not produce a target it would reject.
 */
export function decideStep(input: DecideInput): Decision {
  const { observation, settings } = input;
  const effective = withGroupLimits(settings, observation.group);
  const decision = policyDecide(observation, effective);
  if (effective !== settings) {
    return { ...decision, reason: `${decision.reason} (group limits [${observation.group.min}, ${observation.group.max}] applied)` };
  }
  return decision;
}
