/**
 * The backend's OpenAPI document as `npm run gen:api` last saved it (test/openapi.json,
 * checked for freshness with schema.d.ts), and a way to add a task type the backend does
 * not have, to show that the monitor needs no change for one.
 */
import saved from "./openapi.json";

/** A fresh copy of the backend's document, safe to change. */
export function openApiDocument(): Record<string, unknown> {
  return structuredClone(saved) as Record<string, unknown>;
}

/**
 * The backend's document plus a fourth, invented task type, `translate_text`, written the
 * way pydantic writes the others: its parameters and its `<Type>Request` in the union.
 */
export function withInventedType(): Record<string, unknown> {
  const document = openApiDocument() as {
    components: { schemas: Record<string, Record<string, unknown>> };
  };
  const schemas = document.components.schemas;
  schemas.TranslateText = {
    additionalProperties: false,
    description: "Translate a text (2 s per copy).",
    properties: {
      text: { description: "What to translate", minLength: 1, maxLength: 500, title: "Text", type: "string" },
      target: { default: "fr", enum: ["fr", "de", "ja"], title: "Target", type: "string" },
      copies: { default: 1, maximum: 5, minimum: 1, title: "Copies", type: "integer" },
      weights: {
        items: { type: "number" },
        maxItems: 3,
        title: "Weights",
        type: "array",
      },
      formal: { default: false, title: "Formal", type: "boolean" },
    },
    required: ["text"],
    title: "TranslateText",
    type: "object",
  };
  const template = schemas.ComputeSumRequest as { properties: Record<string, unknown> };
  schemas.TranslateTextRequest = {
    ...template,
    description: "Translate a text (2 s per copy).",
    title: "TranslateTextRequest",
    properties: {
      ...template.properties,
      task_type: { const: "translate_text", title: "Task Type", type: "string" },
      parameters: { $ref: "#/components/schemas/TranslateText" },
    },
  };
  const union = schemas.TaskRequest as {
    oneOf: { $ref: string }[];
    discriminator: { mapping: Record<string, string> };
  };
  union.oneOf.push({ $ref: "#/components/schemas/TranslateTextRequest" });
  union.discriminator.mapping.translate_text = "#/components/schemas/TranslateTextRequest";
  return document;
}
