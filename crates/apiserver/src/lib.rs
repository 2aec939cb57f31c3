//! L2: the Kubernetes HTTP API (discovery, OpenAPI, CRUD, watch, patch, tables) over the registry and store
