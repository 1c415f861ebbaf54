/*
 * bpf_log: what libbpf says, as the agent's own log lines. Left to itself libbpf writes its
 * warnings raw to stderr, lines that are not logfmt, among the agent's (a Xen dom0's journal
 * showed "libbpf: Kernel error message: Exclusivity flag on, cannot modify" for every clsact
 * qdisc found already there, which the enforcers expect and use).
 */
#ifndef DBAVM_BPF_LOG_H
#define DBAVM_BPF_LOG_H

/* From now on libbpf's messages are log lines at debug: every failure they explain is also
 * returned to, and logged by, the enforcer that met it, with the VM and vif it concerns. */
void bpf_log_route(void);

#endif
