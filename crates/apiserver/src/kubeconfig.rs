//! kubeconfig
