// Apollo Client against the gateway: possibleTypes from the gateway itself, relayStylePagination on `events`.
// Run against the demo (see check_js.sh):  AUDIT_URL=http://127.0.0.1:8000/graphql AUDIT_KEY=$AUDIT_DEMO_READER node apollo_client.mjs
// It pages `type:order.*` with fetchMore twice, with and without possibleTypes, and prints what the cache kept.
import { ApolloClient, InMemoryCache, HttpLink, gql } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";

const url = process.env.AUDIT_URL ?? "http://127.0.0.1:8000/graphql";
const key = process.env.AUDIT_KEY;

const EVENTS = gql`
  query Events($first: Int!, $after: String, $search: String) {
    events(first: $first, after: $after, search: $search) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { __typename ... on AuditEvent { id eventId type actor { id } } } }
    }
  }
`;

async function pageAll(withPossibleTypes) {
  const possibleTypes = withPossibleTypes ? await (await fetch(`${url}/possible-types.json`)).json() : undefined;
  const client = new ApolloClient({
    link: new HttpLink({ uri: url, headers: { Authorization: `Bearer ${key}` } }),
    cache: new InMemoryCache({
      possibleTypes,
      typePolicies: { Query: { fields: { events: relayStylePagination(["search", "filter", "orderBy"]) } } },
    }),
  });
  const variables = { first: 50, search: "type:order.*" };
  const watch = client.watchQuery({ query: EVENTS, variables });
  let data = (await client.query({ query: EVENTS, variables })).data;
  let pages = 1;
  while (data.events.pageInfo.hasNextPage) {
    await watch.fetchMore({ variables: { after: data.events.pageInfo.endCursor } });
    data = client.readQuery({ query: EVENTS, variables });
    pages += 1;
  }
  const nodes = data.events.edges.map((edge) => edge.node);
  return {
    withPossibleTypes, pages, edges: nodes.length, distinct: new Set(nodes.map((n) => n.eventId)).size,
    withAuditEventFields: nodes.filter((n) => n.eventId !== undefined).length,
  };
}

const good = await pageAll(true);
const bad = await pageAll(false);
console.log(JSON.stringify(good));
console.log(JSON.stringify(bad));
if (good.edges !== good.distinct || good.withAuditEventFields !== good.edges || bad.withAuditEventFields !== 0) {
  console.error("unexpected: see the two lines above");
  process.exit(1);
}
