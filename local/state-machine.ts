import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { resolveIntrinsics, type CfnTemplate } from '../lib/cfn-template';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './bus';

/**
 * The real state machine file, as the template deploys it: the
 * DefinitionSubstitutions are applied (function ARNs become local
 * placeholders), and aws-local-stepfunctions runs it with every Task state
 * answered by the real handler of the same name.
 */
export type TaskHandlers = Record<string, (input: any) => Promise<unknown> | unknown>;

export interface LoadedStateMachine {
  resourceName: string;
  definitionPath: string | null;
  definition: Record<string, any>;
  taskStates: string[];
}

/** `${Name}` -> value, for every DefinitionSubstitution; ARNs of functions become local Lambda ARNs. */
export function definitionSubstitutions(raw: Record<string, unknown> | undefined, names: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    const resolved = resolveIntrinsics(value, names);
    if (typeof resolved === 'string' || typeof resolved === 'number' || typeof resolved === 'boolean') {
      out[key] = String(resolved);
      continue;
    }
    const record = (resolved ?? {}) as Record<string, unknown>;
    const getAtt = record['Fn::GetAtt'] as string[] | undefined;
    const ref = record.Ref as string | undefined;
    const target = getAtt?.[0] ?? ref ?? key;
    // Any ARN-shaped value passes validation; Task states are answered locally by name, never by ARN.
    out[key] = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${target}`;
  }
  return out;
}

export function substitute(text: string, substitutions: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z0-9_.:-]+)\}/g, (whole, name: string) => (name in substitutions ? substitutions[name] : whole));
}

/** Every Task state, including those inside Parallel branches and Map iterators. */
export function taskStateNames(definition: Record<string, any>): string[] {
  const names: string[] = [];
  const visit = (machine: Record<string, any> | undefined) => {
    for (const [name, state] of Object.entries((machine?.States ?? {}) as Record<string, any>)) {
      if (state.Type === 'Task') names.push(name);
      for (const branch of state.Branches ?? []) visit(branch);
      if (state.Iterator) visit(state.Iterator);
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(definition);
  return names;
}

export function loadStateMachine(template: CfnTemplate, templatePath: string, names: Record<string, unknown>): LoadedStateMachine {
  const entry = Object.entries(template.Resources).find(
    ([, r]) => r.Type === 'AWS::Serverless::StateMachine' || r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (!entry) throw new Error(`${templatePath} defines no state machine`);
  const [resourceName, resource] = entry;
  const properties = resource.Properties ?? {};
  const substitutions = definitionSubstitutions(properties.DefinitionSubstitutions, names);
  let text: string;
  let definitionPath: string | null = null;
  if (typeof properties.DefinitionUri === 'string') {
    definitionPath = resolve(dirname(templatePath), properties.DefinitionUri);
    text = readFileSync(definitionPath, 'utf8');
  } else if (properties.Definition) {
    text = JSON.stringify(properties.Definition);
  } else if (typeof properties.DefinitionString === 'string') {
    text = properties.DefinitionString;
  } else {
    throw new Error(`${resourceName} in ${templatePath} has no DefinitionUri or Definition`);
  }
  const definition = JSON.parse(substitute(text, substitutions)) as Record<string, any>;
  return { resourceName, definitionPath, definition, taskStates: taskStateNames(definition) };
}

export interface LocalStateMachine {
  run(input: unknown): Promise<unknown>;
}

/** Builds the runnable machine; fails at start (not mid-execution) when a Task state has no handler. */
export function createLocalStateMachine(loaded: LoadedStateMachine, handlers: TaskHandlers): LocalStateMachine {
  const missing = loaded.taskStates.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(`no local handler for Task state(s) ${missing.join(', ')} of ${loaded.resourceName} (handlers: ${Object.keys(handlers).join(', ')})`);
  }
  const machine = new StateMachine(loaded.definition as any, { validationOptions: { checkArn: false } });
  const taskResourceLocalHandlers = Object.fromEntries(
    loaded.taskStates.map((name) => [name, async (input: unknown) => (await handlers[name](input)) as any]),
  );
  return {
    async run(input: unknown) {
      const execution = machine.run(input as any, { overrides: { taskResourceLocalHandlers } });
      return execution.result;
    },
  };
}
