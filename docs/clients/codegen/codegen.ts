import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../../schema.graphql",
  documents: "events.graphql",
  generates: {
    "out/possibleTypes.json": { plugins: ["fragment-matcher"], config: { module: "commonjs", apolloClientVersion: 3 } },
    "out/types.ts": {
      plugins: ["typescript", "typescript-operations"],
      config: { scalars: { BigInt: "string", DateTime: "string", JSON: "unknown" }, nonOptionalTypename: true },
    },
  },
};
export default config;
