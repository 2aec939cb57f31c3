//! L2: tokio drivers for the pure cores: informers, work queues, effect execution, processes, webhooks
