// Attachments (docs/api.md "Attachments"): files picked in the composer are announced
// (POST /v1/attachments), uploaded as they are (PUT upload_url with upload_headers, which
// the URL's signature covers) and sent by id with the message. Files are read back with
// the bearer token: images shown from a blob URL, in a box of their own size reserved
// before they load; other files saved through a blob URL when their link is pressed.

import { ApiError } from "./api.js";
import { el } from "./dom.js";

// What a browser shows inline without surprises; other image types download like any file.
const INLINE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let size = bytes / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Reads attachments with the session's token, one blob URL per attachment kept. */
export class Files {
  /** @param {import("./api.js").Session} session */
  constructor(session) {
    this.session = session;
    this.urls = new Map(); // attachment id -> Promise of a blob URL
  }

  blobUrl(attachment) {
    if (!this.urls.has(attachment.id)) {
      const loading = this.session.blob(attachment.url).then((blob) => URL.createObjectURL(blob));
      loading.catch(() => this.urls.delete(attachment.id)); // a later render tries again
      this.urls.set(attachment.id, loading);
    }
    return this.urls.get(attachment.id);
  }

  async save(attachment) {
    const url = await this.blobUrl(attachment);
    const link = el("a", { href: url, download: attachment.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
  }

  reset() {
    for (const loading of this.urls.values()) loading.then((url) => URL.revokeObjectURL(url), () => {});
    this.urls.clear();
  }

  /** A message's attachments: images inline, other files as links that save them. */
  list(message) {
    return el(
      "ul",
      { class: "attachments", "aria-label": "Attachments" },
      message.attachments.map((attachment) => el("li", {}, this.item(attachment))),
    );
  }

  item(attachment) {
    const label = `${attachment.filename} (${humanSize(attachment.size)})`;
    if (INLINE.has(attachment.content_type) && attachment.width && attachment.height) {
      const image = el("img", {
        alt: attachment.filename,
        width: String(attachment.width),
        height: String(attachment.height),
        class: "attachment-image",
      });
      this.blobUrl(attachment).then(
        (url) => {
          image.src = url;
        },
        () => image.replaceWith(this.link(attachment, label)),
      );
      return el("figure", {}, image, el("figcaption", { text: label }));
    }
    return this.link(attachment, label);
  }

  link(attachment, label) {
    return el("a", {
      href: attachment.url,
      class: "attachment-file",
      text: label,
      "aria-label": `Download ${label}`,
      onclick: (event) => {
        // A plain link would go without the token: fetch it, then save the bytes.
        event.preventDefault();
        this.save(attachment).catch(() => {
          event.target.textContent = `${label}: cannot be downloaded now`;
        });
      },
    });
  }
}

/** The files picked in the composer, each announced and uploaded at once. */
export class Uploads {
  /** @param {{session: import("./api.js").Session, changed: () => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.items = []; // {file, id, state: "uploading" | "ready" | "failed", error}
    this.list = document.getElementById("uploads");
    this.input = document.getElementById("attach-input");
    document.getElementById("attach").addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      for (const file of this.input.files) this.add(file);
      this.input.value = "";
    });
  }

  get busy() {
    return this.items.some((item) => item.state === "uploading");
  }

  get ready() {
    return this.items.filter((item) => item.state === "ready");
  }

  /** The ids to send, and the composer emptied of them. */
  take() {
    const ids = this.ready.map((item) => item.id);
    this.items = this.items.filter((item) => item.state !== "ready");
    this.render();
    return ids;
  }

  clear() {
    this.items = [];
    this.render();
  }

  async add(file) {
    const item = { file, id: null, state: "uploading", error: "" };
    this.items.push(item);
    this.render();
    try {
      const upload = await this.hooks.session.request("POST", "/v1/attachments", {
        filename: file.name,
        content_type: file.type || "application/octet-stream",
        size: file.size,
      });
      const target = new URL(upload.upload_url, new URL(this.hooks.session.base || location.href, location.href));
      const response = await fetch(target, {
        method: upload.upload_method || "PUT",
        headers: upload.upload_headers || {},
        body: file,
        credentials: "omit",
      });
      if (!response.ok) throw new ApiError(response.status, `The upload failed (HTTP ${response.status}).`);
      item.id = upload.id;
      item.state = "ready";
    } catch (error) {
      item.state = "failed";
      item.error =
        error instanceof ApiError
          ? error.status === 413
            ? "too large for this tenant"
            : error.detail
          : "the server cannot be reached";
    }
    if (this.items.includes(item)) this.render();
  }

  remove(item) {
    this.items = this.items.filter((held) => held !== item);
    this.render();
    document.getElementById("composer-input").focus();
  }

  render() {
    this.list.replaceChildren(
      ...this.items.map((item) =>
        el(
          "li",
          { dataset: { state: item.state } },
          el("span", { class: "upload-name", text: `${item.file.name} (${humanSize(item.file.size)})` }),
          el("span", {
            class: "upload-state",
            text: { uploading: "uploading…", ready: "ready", failed: `not uploaded: ${item.error}` }[item.state],
          }),
          el("button", {
            type: "button",
            class: "link",
            text: "Remove",
            "aria-label": `Remove ${item.file.name}`,
            onclick: () => this.remove(item),
          }),
        ),
      ),
    );
    this.list.hidden = !this.items.length;
    this.hooks.changed();
  }
}
