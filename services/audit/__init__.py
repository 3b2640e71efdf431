"""The audit log: every API read and write of a message, every refused attempt and every
administrative action, appended to a hash chain that `vigie audit verify` checks."""
