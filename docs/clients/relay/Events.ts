import { graphql } from "react-relay";

export const eventRow = graphql`
  fragment EventsEventRow on AuditEvent {
    eventId
    type
    occurredAt
    actor { id }
  }
`;

export const orderData = graphql`
  fragment EventsOrderData on OrderPlaced {
    data { orderId total { amountMinor currency } }
  }
`;

export const query = graphql`
  query EventsQuery($first: Int!, $after: String) {
    events(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          __typename
          ...EventsEventRow @alias(as: "event")
          ...EventsOrderData @alias(as: "order")
        }
      }
    }
  }
`;

export const inline = graphql`
  query EventsInlineQuery {
    events(first: 20) {
      edges { node { __typename ... on AuditEvent { eventId type } } }
    }
  }
`;
