import { AutoScalingGroupAdapter, createAutoScalingClients } from '../../../lib/adapters/auto-scaling';
import { once } from '../../../lib/config';
import type { FleetDeps } from '../deps';
import { realConfig, realStoreDeps } from './store';

/** The store deps plus the Auto Scaling group (ScaleOut), built once per container on first use. */
export const realFleetDeps = once(
  (): FleetDeps => ({
    ...realStoreDeps(),
    scalingGroup: new AutoScalingGroupAdapter(realConfig().AUTO_SCALING_GROUP_NAME, createAutoScalingClients()),
  }),
);
