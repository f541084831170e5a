/** What the signed-in role may do, as far as the session tells (its role name only). */

/** What a system role may do by its role permissions alone (the service's ROLE_PERMISSIONS):
 * viewers read, members and administrators write. A custom role's permissions are not in the
 * session, so it is offered the writes and the service decides. */
export function roleMayWrite(role: string | undefined): boolean {
  return role !== "viewer";
}
