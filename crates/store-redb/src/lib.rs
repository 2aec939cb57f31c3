//! L2: durable embedded backend for corral-store on redb, with group commit and snapshots
