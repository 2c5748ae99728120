/**
 * Drops the DependsOn entries a template states twice: a resource whose Properties already Ref or
 * GetAtt another resource is created after it anyway, so listing that resource in DependsOn too
 * changes nothing in CloudFormation's ordering — and cfn-lint reports every such entry (W3005).
 * CDK adds them for its own constructs (a function depends on the role it references, the bucket
 * notifications on the queue it names), so they are removed from the finished template.
 */
type Template = { Resources?: Record<string, { DependsOn?: string | string[]; Properties?: unknown }> };

/** Logical IDs a value references with Ref or Fn::GetAtt. */
function referencedIds(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedIds(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') into.add(inner);
      else if (key === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string') into.add(inner[0]);
      else if (key === 'Fn::GetAtt' && typeof inner === 'string') into.add(inner.split('.')[0]!);
      else referencedIds(inner, into);
    }
  }
  return into;
}

export function dropRedundantDependsOn<T extends Template>(template: T): T {
  for (const resource of Object.values(template.Resources ?? {})) {
    if (resource.DependsOn === undefined) continue;
    const referenced = referencedIds(resource.Properties);
    const dependsOn = (Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn]).filter((id) => !referenced.has(id));
    if (dependsOn.length === 0) delete resource.DependsOn;
    else resource.DependsOn = dependsOn;
  }
  return template;
}
