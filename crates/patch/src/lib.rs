//! L1: strategic merge patch, JSON merge patch and JSON patch application with Kubernetes' patch metadata
