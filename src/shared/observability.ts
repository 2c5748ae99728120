/**
 * Logging and metrics for the handlers. On Lambda, metrics are Powertools Metrics (CloudWatch EMF,
 * graphed by the stack's dashboard); the local runtime passes counters instead and reads them for
 * its summary. Either way a handler only sees the small `PipelineMetrics` port.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { settings, type MetricName } from './settings';

export interface PipelineMetrics {
  add(name: MetricName, value: number): void;
  /** Called once at the end of every invocation. */
  publish(): void;
}

export function lambdaMetrics(): PipelineMetrics {
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? settings.observability.metricsNamespace,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? settings.observability.serviceName,
  });
  return {
    add: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
    publish: () => metrics.publishStoredMetrics(),
  };
}

export class CountingMetrics implements PipelineMetrics {
  readonly totals = new Map<MetricName, number>();

  add(name: MetricName, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  get(name: MetricName): number {
    return this.totals.get(name) ?? 0;
  }

  publish(): void {}
}

export function createLogger(component: string): Logger {
  return new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? settings.observability.serviceName,
    persistentKeys: { component },
  });
}
