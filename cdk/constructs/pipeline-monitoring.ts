/**
 * The pipeline on one CloudWatch dashboard — what it did (the functions' own metrics), how far
 * behind it is (queues, stream), what went wrong (dead letters, errors, throttles) — and the alarms
 * that page the operations topic when something needs a person.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MetricName, settings } from '../../src/shared/settings';

export interface MonitoredFunction {
  label: string;
  function: IFunction;
}

export interface MonitoredSourceQueue {
  label: string;
  queue: IQueue;
  /** A message older than this means the consumer is failing or can't keep up. */
  maxAge: Duration;
}

export interface MonitoredDeadLetterQueue {
  label: string;
  queue: IQueue;
  /** What a message on it is, and how to recover it: the alarm tells whoever it pages. */
  recovery: string;
}

export interface PipelineMonitoringProps {
  functions: MonitoredFunction[];
  sourceQueues: MonitoredSourceQueue[];
  deadLetterQueues: MonitoredDeadLetterQueue[];
  table: ITable;
  alertsTopic: ITopic;
  /** The function reading the table's stream; its iterator age is how late alerts are. */
  streamConsumer: IFunction;
  operationsTopic: ITopic;
}

/** Dashboard resolution: the functions emit their metrics per invocation, the queues per minute. */
const graphPeriod = Duration.minutes(1);
/** Long enough that one late metric datapoint doesn't flap an alarm, short enough to page promptly. */
const alarmPeriod = Duration.minutes(5);

const constructId = (label: string) => label.replace(/(^|\s)(\w)/g, (_, __, letter: string) => letter.toUpperCase()).replace(/\W/g, '');

export class PipelineMonitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);

    const pipelineMetric = (metricName: MetricName) =>
      new Metric({
        namespace: settings.observability.metricsNamespace,
        metricName,
        // Powertools Metrics adds the service as a default dimension to everything it emits.
        dimensionsMap: { service: settings.observability.serviceName },
        statistic: 'Sum',
        period: graphPeriod,
        label: metricName,
      });
    const graph = (title: string, left: IMetric[], width = 8) => new GraphWidget({ title, left, width, height: 6, period: graphPeriod });

    const alarmOn = (alarmId: string, description: string, metric: IMetric, threshold: number) => {
      const alarm = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Idle queues and functions publish nothing; silence is healthy.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new SnsAction(props.operationsTopic));
      alarm.addOkAction(new SnsAction(props.operationsTopic));
      this.alarms.push(alarm);
    };

    for (const { label, queue, recovery } of props.deadLetterQueues) {
      alarmOn(
        `${constructId(label)}NotEmpty`,
        `The ${label} dead-letter queue holds messages the pipeline gave up on. ${recovery}`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: alarmPeriod }),
        0,
      );
    }
    for (const { label, queue, maxAge } of props.sourceQueues) {
      alarmOn(
        `${constructId(label)}Backlog`,
        `The oldest message on the ${label} queue is older than ${maxAge.toHumanString()}: its consumer is failing or falling behind.`,
        queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: alarmPeriod }),
        maxAge.toSeconds(),
      );
    }
    for (const { label, function: fn } of props.functions) {
      alarmOn(
        `${constructId(label)}Errors`,
        `The ${label} function failed invocations (crash or timeout); see its log group.`,
        fn.metricErrors({ statistic: 'Sum', period: alarmPeriod }),
        0,
      );
    }

    const perFunction = (metric: (fn: IFunction) => Metric) =>
      props.functions.map(({ label, function: fn }) => metric(fn).with({ label, period: graphPeriod }));

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(12) });
    this.dashboard.addWidgets(
      // Deferred rows are the writer's back-pressure at work (throttling): they come back later.
      graph('Rows', [MetricName.RowsRead, MetricName.RowsRejected, MetricName.RowsApplied, MetricName.RowsSkipped, MetricName.RowsDeferred].map(pipelineMetric), 12),
      graph('Uploads', [MetricName.UploadsProcessed, MetricName.UploadsFailed].map(pipelineMetric), 6),
      graph('Alerts published', [
        pipelineMetric(MetricName.AlertsPublished),
        pipelineMetric(MetricName.AlertsParked),
        props.alertsTopic.metricNumberOfMessagesPublished({ statistic: 'Sum', period: graphPeriod, label: 'Alerts topic: messages published' }),
      ], 6),
    );
    this.dashboard.addWidgets(
      graph('Queue depth (visible messages)', [
        ...props.sourceQueues.map(({ label, queue }) => queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: graphPeriod, label })),
        pipelineMetric(MetricName.MessagesSent),
      ]),
      graph('Age of oldest message (s)', props.sourceQueues.map(({ label, queue }) =>
        queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: graphPeriod, label }),
      )),
      graph('Dead-letter queue depth', props.deadLetterQueues.map(({ label, queue }) =>
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: graphPeriod, label }),
      )),
    );
    this.dashboard.addWidgets(
      graph('Function errors', perFunction((fn) => fn.metricErrors({ statistic: 'Sum' }))),
      graph('Function throttles', perFunction((fn) => fn.metricThrottles({ statistic: 'Sum' }))),
      graph('Function duration p99 (ms)', perFunction((fn) => fn.metricDuration({ statistic: 'p99' }))),
    );
    this.dashboard.addWidgets(
      graph('Inventory table throttled UpdateItem', [
        props.table.metricThrottledRequestsForOperations({ operations: [Operation.UPDATE_ITEM], period: graphPeriod, label: 'UpdateItem throttled' }),
      ], 12),
      graph('Alert lag: stream iterator age (ms)', [
        props.streamConsumer.metric('IteratorAge', { statistic: 'Maximum', period: graphPeriod, label: 'IteratorAge' }),
      ], 12),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }

  /** Opens the dashboard in the console of the region the stack is deployed to. */
  get dashboardUrl(): string {
    const { region } = Stack.of(this);
    return `https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}
