import { DescribeScalingActivitiesCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { InstanceDeparture, ScalingActivitiesPort } from '../ports';

/**
 * ScalingActivitiesPort over Auto Scaling DescribeScalingActivities (API
 * reference: up to 100 records a page (MaxRecords), NextToken to page on, the
 * activities of the last six weeks, newest first with those in progress
 * listed first). A termination's Description reads
 * "Terminating EC2 instance: i-...", its StartTime is when it began. The
 * action has no resource-level permission (Resource "*" in the role).
 */
const TERMINATING = /^Terminating EC2 instance: (i-[0-9a-f]+)/;

/** Pages read at most per call: 500 activities, far more than one reconcile period of a pool produces. */
export const MAX_ACTIVITY_PAGES = 5;

/** Pure: the departures one page of activities lists, at or after `since`. */
export function departuresFromActivities(
  activities: ReadonlyArray<{ Description?: string; Cause?: string; StartTime?: Date; StatusCode?: string }>,
  since: number,
): InstanceDeparture[] {
  const out: InstanceDeparture[] = [];
  for (const activity of activities) {
    const match = TERMINATING.exec(activity.Description ?? '');
    const at = activity.StartTime?.getTime();
    if (!match || at === undefined || at < since) continue;
    out.push({ instanceId: match[1], at, cause: activity.Cause ?? '' });
  }
  return out;
}

export class AutoScalingActivities implements ScalingActivitiesPort {
  constructor(
    private readonly groupName: string,
    private readonly autoScaling: AutoScalingClient,
  ) {}

  async departuresSince(since: number): Promise<InstanceDeparture[]> {
    const out: InstanceDeparture[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_ACTIVITY_PAGES; page++) {
      const response = await this.autoScaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: this.groupName, MaxRecords: 100, NextToken: nextToken }));
      const activities = response.Activities ?? [];
      out.push(...departuresFromActivities(activities, since));
      nextToken = response.NextToken;
      // Newest first: once a page reaches back before `since`, older pages hold nothing newer.
      const reachedBack = activities.some((activity) => activity.StatusCode !== 'InProgress' && (activity.StartTime?.getTime() ?? 0) < since);
      if (!nextToken || reachedBack) break;
    }
    return out;
  }
}
