//! L1: server-side Table printers with upstream's columns
