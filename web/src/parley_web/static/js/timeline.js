// One chat's messages as the client holds them: keyed by seq, so a message that arrives
// twice (a replay after resume, a history page overlapping the stream) is kept once, and
// the gaps left (a page not loaded yet, a dropped frame) can be named and filled.
// No DOM here: tests/web can check it in node.

export class Timeline {
  constructor() {
    this.bySeq = new Map();
    this.loaded = false; // the newest page has been fetched
    this.hasOlder = true; // the server has messages before the oldest held
  }

  get size() {
    return this.bySeq.size;
  }

  get maxSeq() {
    let max = 0;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  get minSeq() {
    let min = 0;
    for (const seq of this.bySeq.keys()) if (!min || seq < min) min = seq;
    return min;
  }

  /** Add or replace messages; returns those that were not held before, ascending. */
  merge(messages) {
    const added = [];
    for (const message of messages) {
      if (!this.bySeq.has(message.seq)) added.push(message);
      const held = this.bySeq.get(message.seq);
      // An older copy never replaces a newer one (an edit seen live, then a stale page).
      if (held && newer(held, message)) continue;
      this.bySeq.set(message.seq, message);
    }
    return added.sort((a, b) => a.seq - b.seq);
  }

  /** The first seq missing between the oldest and the newest held, or null. */
  firstGap() {
    if (!this.bySeq.size) return null;
    const min = this.minSeq;
    const max = this.maxSeq;
    for (let seq = min; seq <= max; seq += 1) {
      if (!this.bySeq.has(seq)) return seq;
    }
    return null;
  }

  ordered() {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
}

function stamp(message) {
  return message.deleted ? Infinity : Date.parse(message.edited_at || message.created_at) || 0;
}

function newer(held, incoming) {
  return stamp(held) > stamp(incoming);
}
