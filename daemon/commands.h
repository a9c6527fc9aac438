/*
 * One handler per control command (common/commands.def).  Each checks its
 * arguments strictly and ends the request with exactly one reply.
 */
#ifndef EC2M_COMMANDS_H
#define EC2M_COMMANDS_H

struct ctl_req;

/* The control server's dispatcher; arg is the struct daemon. */
void commands_dispatch(void *arg, struct ctl_req *r);

#endif
