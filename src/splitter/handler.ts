// Placeholder until the real handler lands (issue 2); exists so the CDK stack can bundle it.
export const handler = async (): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => ({ batchItemFailures: [] });
