//! Approval: SSH signatures in OpenSSH's SSHSIG format (namespace `sophia-plan@v1`),
//! `.infra/allowed_signers`, and digest approvals.
