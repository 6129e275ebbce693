import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

/**
 * Reads a CloudFormation/SAM template with its short-form intrinsic tags
 * (!Ref, !Sub, !GetAtt, ...) turned into their long form ({"Ref": ...}), so
 * local mode and tests can take resource definitions (table, rules, ASG) from
 * the very file that is deployed.
 */
const INTRINSICS = ['Ref', 'Sub', 'GetAtt', 'If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select', 'Split',
  'FindInMap', 'ImportValue', 'GetAZs', 'Base64', 'Cidr', 'Condition', 'Transform'];

const customTags: Tags = INTRINSICS.flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const resolve = (value: unknown) => ({
    [key]: name === 'GetAtt' && typeof value === 'string' ? value.split('.') : value,
  });
  return (['scalar', 'seq', 'map'] as const).map((nodeClass) => ({
    tag: `!${name}`,
    collection: nodeClass === 'scalar' ? undefined : nodeClass,
    resolve: (node: unknown) => resolve(nodeClass === 'scalar' ? node : (node as { toJSON(): unknown }).toJSON()),
  })) as Tags;
}) as Tags;

export interface CfnTemplate {
  Parameters?: Record<string, { Type: string; Default?: unknown; Description?: string; AllowedValues?: unknown[]; AllowedPattern?: string }>;
  Resources: Record<string, { Type: string; Properties?: Record<string, any>; [key: string]: unknown }>;
  Outputs?: Record<string, unknown>;
  [key: string]: unknown;
}

export function parseTemplate(text: string): CfnTemplate {
  return parse(text, { customTags }) as CfnTemplate;
}

export function loadTemplate(path: string): CfnTemplate {
  return parseTemplate(readFileSync(path, 'utf8'));
}

export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, CfnTemplate['Resources'][string]]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** The key under which `names` carries another stack's export, for Fn::ImportValue. */
export const exportKey = (exportName: string): string => `Fn::ImportValue:${exportName}`;

/**
 * Resolves the few intrinsics that local mode needs (Ref to parameters and to
 * given names, Sub with ${Param}, Split, ImportValue of an export given as
 * `names[exportKey(name)]`) against plain values. Anything else is left as it is.
 */
export function resolveIntrinsics(value: unknown, names: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, names));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === 'Ref' && typeof record.Ref === 'string' && record.Ref in names) {
      return names[record.Ref];
    }
    if (keys.length === 1 && keys[0] === 'Fn::Sub' && typeof record['Fn::Sub'] === 'string') {
      return (record['Fn::Sub'] as string).replace(/\$\{([^}!]+)\}/g, (whole, name: string) =>
        name in names ? String(names[name]) : whole,
      );
    }
    if (keys.length === 1 && keys[0] === 'Fn::ImportValue') {
      const exportName = resolveIntrinsics(record['Fn::ImportValue'], names);
      if (typeof exportName === 'string' && exportKey(exportName) in names) return names[exportKey(exportName)];
    }
    if (keys.length === 1 && keys[0] === 'Fn::Split' && Array.isArray(record['Fn::Split'])) {
      const [separator, source] = record['Fn::Split'] as [string, unknown];
      const resolved = resolveIntrinsics(source, names);
      if (typeof resolved === 'string') return resolved.split(separator);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolveIntrinsics(v, names)]));
  }
  return value;
}

/**
 * What Fn::ImportValue of the Infrastructure stack's RunnerLabels export resolves to in a template (the
 * AutoScaler's rule and functions, the Runners' jit-config import it), for local mode and tests:
 * `labels`, under the export name built from the template's InfrastructureStackName default.
 */
export function runnerLabelsImport(template: CfnTemplate, labels: readonly string[]): Record<string, string> {
  const infrastructure = String(parameterDefaults(template).InfrastructureStackName ?? 'runner-autoscaler-infrastructure');
  return { [exportKey(`${infrastructure}-RunnerLabels`)]: labels.join(',') };
}

/** Parameter defaults of a template, as plain values. */
export function parameterDefaults(template: CfnTemplate): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(template.Parameters ?? {}).map(([name, parameter]) => [name, parameter.Default]),
  );
}
