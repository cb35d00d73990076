// The JSON Schema of the configuration file and of a provider file, generated from the zod schemas (published for editors).
import { z } from 'zod';
import { configFileSchema, providerFileSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Vestibule broker configuration',
  };
}

export function providerJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(providerFileSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Vestibule upstream provider',
  };
}
