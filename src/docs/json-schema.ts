import { z } from 'zod';

/** A JSON Schema object, as the documents hold it. */
export type JsonSchema = Record<string, unknown>;

/**
 * zod's JSON Schema (2020-12), without the `$schema` and `$id` of a standalone document: inside
 * OpenAPI and AsyncAPI a schema is a part, and its refs point into the document's components.
 * Transforms and refinements have no JSON form; they are left out (`unrepresentable: 'any'`).
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return bare(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }));
}

/** Named schemas that refer to each other as `#/components/schemas/<name>`. */
export function componentSchemas(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) if (!registry.has(schema)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, bare(s)]));
}

function bare(s: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = s;
  return rest;
}
