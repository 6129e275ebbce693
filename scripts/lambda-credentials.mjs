// Stand-in for @aws-sdk/credential-provider-node inside Lambda bundles only.
// Lambda always hands a function its role's credentials in environment
// variables, so the SSO/INI/process/IMDS/web-identity chain (and the nested
// STS/SSO clients it drags in, about 90 KB minified) is dead weight there.
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init = {}) => fromEnv(init);
