import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AddressInfo } from 'node:net';
import { FAKE_AWS } from './tools';
import { TABLE_KEY, TTL_ATTRIBUTE, OPEN_JOBS_INDEX, OPEN_JOBS_HASH, OPEN_JOBS_RANGE, OPEN_JOBS_PROJECTION } from '../../lib/table';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite');

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  createTable(name?: string): Promise<string>;
  stop(): Promise<void>;
}

let tableCounter = 0;

/** An in-memory dynalite on a free port: the real DynamoDB wire protocol, no mocks. */
export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...FAKE_AWS, endpoint });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    client,
    doc,
    async createTable(name = `autoscaler-test-${++tableCounter}`) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: TABLE_KEY, AttributeType: 'S' },
            { AttributeName: OPEN_JOBS_HASH, AttributeType: 'S' },
            { AttributeName: OPEN_JOBS_RANGE, AttributeType: 'S' },
          ],
          KeySchema: [{ AttributeName: TABLE_KEY, KeyType: 'HASH' }],
          GlobalSecondaryIndexes: [
            {
              IndexName: OPEN_JOBS_INDEX,
              KeySchema: [
                { AttributeName: OPEN_JOBS_HASH, KeyType: 'HASH' },
                { AttributeName: OPEN_JOBS_RANGE, KeyType: 'RANGE' },
              ],
              Projection: OPEN_JOBS_PROJECTION,
            },
          ],
        }),
      );
      void TTL_ATTRIBUTE;
      return name;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.close(() => resolve());
      }),
  };
}
