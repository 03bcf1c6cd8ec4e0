// Display names of the people in a chat. Members carry only usernames (docs/api.md), so
// names come from GET /v1/users?prefix=<username>, read again each time the members panel
// opens: a rename (PATCH /v1/auth/me) sends no frame, and shows there at the next look.

export class People {
  /** @param {import("./api.js").Session} session */
  constructor(session) {
    this.session = session;
    this.byId = new Map(); // user id -> user
  }

  displayName(userId) {
    return this.byId.get(userId)?.display_name || null;
  }

  remember(user) {
    this.byId.set(user.id, user);
  }

  async load(members) {
    await Promise.all(
      members.map(async (member) => {
        try {
          const { users } = await this.session.request(
            "GET",
            `/v1/users?prefix=${encodeURIComponent(member.username)}&limit=5`,
          );
          const user = users.find((u) => u.username === member.username);
          if (user) this.remember(user);
        } catch {
          // A name is a nicety; the username shows meanwhile.
        }
      }),
    );
  }

  reset() {
    this.byId.clear();
  }
}
