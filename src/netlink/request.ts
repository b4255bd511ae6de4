/** A change request built by a pure function, so that tests can compare it with iproute2's bytes. */

/** The parts of a change request that the session does not add itself. */
export interface ChangeRequest {
  /** RTM_* message type. */
  type: number;
  /** nlmsg_flags beyond NLM_F_REQUEST and NLM_F_ACK, which the session always sets on changes. */
  flags: number;
  /** The message body: the fixed struct and the attributes. */
  body: Buffer;
}
