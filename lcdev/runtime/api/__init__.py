"""HTTP API of a service: CRUD and custom endpoints, OpenAPI and AsyncAPI documents."""
