/**
 * CloudFormation's intrinsic functions, evaluated the way CloudFormation does at deploy time, for the
 * ones a synthesized pipeline uses: Ref (resources and pseudo parameters), Fn::GetAtt, Fn::Join,
 * Fn::Select, Fn::Split and Fn::Sub. What a reference stands for comes from a `References` the caller
 * supplies (the local names and attributes of the stack's resources). Pure: no I/O.
 */

/** The value of `Ref` and `Fn::GetAtt` for the stack's resources. */
export interface References {
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
}

/** Where the stack is deployed: the pseudo parameters. */
export interface DeploymentTarget {
  account: string;
  region: string;
  partition: string;
  stackName: string;
}

/** A value the template asks for that cannot be given (an unknown intrinsic, a missing resource). */
export class TemplateResolutionError extends Error {
  override name = 'TemplateResolutionError';
}

/** Stands for `AWS::NoValue`: the property it is the value of is removed. */
const noValue = Symbol('AWS::NoValue');

function pseudoParameter(name: string, target: DeploymentTarget): string | typeof noValue | undefined {
  switch (name) {
    case 'AWS::AccountId':
      return target.account;
    case 'AWS::Region':
      return target.region;
    case 'AWS::Partition':
      return target.partition;
    case 'AWS::StackName':
      return target.stackName;
    case 'AWS::StackId':
      return `arn:${target.partition}:cloudformation:${target.region}:${target.account}:stack/${target.stackName}/local`;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::NoValue':
      return noValue;
    default:
      return undefined;
  }
}

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateResolutionError(`${where} needs a string, got ${JSON.stringify(value)}`);
}

function asList(value: unknown, where: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new TemplateResolutionError(`${where} needs a list, got ${JSON.stringify(value)}`);
}

export class TemplateResolver {
  constructor(
    private readonly target: DeploymentTarget,
    private readonly references: References,
  ) {}

  /** The value with every intrinsic function evaluated. */
  resolve(value: unknown): unknown {
    const resolved = this.evaluate(value);
    return resolved === noValue ? undefined : resolved;
  }

  /** A value that must come out as a string (a name, an ARN, an environment variable). */
  resolveString(value: unknown, where: string): string {
    return asString(this.resolve(value), where);
  }

  private evaluate(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.evaluate(item)).filter((item) => item !== noValue);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [name, argument] = entries[0]!;
      if (name === 'Ref') return this.ref(asString(argument, 'Ref'));
      if (name.startsWith('Fn::')) return this.call(name, argument);
    }
    const result: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      const resolved = this.evaluate(item);
      if (resolved !== noValue) result[key] = resolved;
    }
    return result;
  }

  private ref(name: string): string | typeof noValue {
    return pseudoParameter(name, this.target) ?? this.references.ref(name);
  }

  private call(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof argument === 'string' ? splitOnce(argument, '.') : asList(argument, name);
        return this.references.getAtt(asString(logicalId, name), asString(this.evaluate(attribute), name));
      }
      case 'Fn::Join': {
        const [separator, items] = asList(argument, name);
        return asList(this.evaluate(items), name)
          .map((item) => asString(item, name))
          .join(asString(separator, name));
      }
      case 'Fn::Select': {
        const [index, items] = asList(argument, name);
        const list = asList(this.evaluate(items), name);
        const at = Number(this.evaluate(index));
        if (!Number.isInteger(at) || at < 0 || at >= list.length) {
          throw new TemplateResolutionError(`Fn::Select index ${String(index)} is outside its list of ${list.length}`);
        }
        return list[at];
      }
      case 'Fn::Split': {
        const [separator, source] = asList(argument, name);
        return asString(this.evaluate(source), name).split(asString(separator, name));
      }
      case 'Fn::Sub':
        return this.substitute(argument);
      default:
        throw new TemplateResolutionError(`${name} is not supported by the local runtime (it evaluates Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and Fn::Sub)`);
    }
  }

  /** `Fn::Sub`: `${Name}`, `${Resource.Attribute}` and the variables of its second form; `${!x}` is a literal `${x}`. */
  private substitute(argument: unknown): string {
    const [text, variables = {}] = typeof argument === 'string' ? [argument] : asList(argument, 'Fn::Sub');
    const values = this.evaluate(variables) as Record<string, unknown>;
    return asString(text, 'Fn::Sub').replace(/\$\{([^}]+)\}/g, (_, expression: string) => {
      if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
      if (expression in values) return asString(values[expression], `Fn::Sub variable ${expression}`);
      if (expression.includes('.') && !expression.startsWith('AWS::')) {
        const [logicalId, attribute] = splitOnce(expression, '.');
        return this.references.getAtt(logicalId, attribute);
      }
      const referenced = this.ref(expression);
      return referenced === noValue ? '' : referenced;
    });
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  if (at === -1) throw new TemplateResolutionError(`'${text}' is not of the form Resource${separator}Attribute`);
  return [text.slice(0, at), text.slice(at + 1)];
}
