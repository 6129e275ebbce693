import { AutoScalingGroupBase, createAutoScalingClient } from '../../../lib/adapters/auto-scaling';
import { once } from '../../../lib/config';
import type { FleetDeps } from '../deps';
import { realConfig, realStoreDeps } from './store';

/** The Auto Scaling client, built once per container on first use. */
export const realAutoScalingClient = once(() => createAutoScalingClient());

/**
 * The store deps plus the Auto Scaling group (ScaleOut), built once per
 * container on first use. ScaleOut only sets the desired capacity: its group
 * has no EC2 lookup, so its bundle carries no EC2 client (the functions that
 * describe the group add one, real-deps/github.ts).
 */
export const realFleetDeps = once(
  (): FleetDeps => ({
    ...realStoreDeps(),
    scalingGroup: new AutoScalingGroupBase(realConfig().AUTO_SCALING_GROUP_NAME, realAutoScalingClient(), undefined),
  }),
);
