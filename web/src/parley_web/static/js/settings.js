// The account dialog (docs/api.md "Accounts"): the display name (PATCH /v1/auth/me) and the
// password (POST /v1/auth/password, which ends every other login of the account; this tab's
// login is the one kept, so nothing here has to log in again).

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);

export class Settings {
  /** @param {{session: import("./api.js").Session, me: () => object,
   *           renamed: (user: object) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    $("settings").addEventListener("click", () => this.open());
    $("settings-close").addEventListener("click", () => $("settings-dialog").close());
    $("name-form").addEventListener("submit", (event) => this.rename(event));
    $("password-form").addEventListener("submit", (event) => this.changePassword(event));
  }

  open() {
    $("name-form").reset();
    $("password-form").reset();
    for (const id of ["name-error", "name-done", "password-error", "password-done"]) $(id).textContent = "";
    $("settings-display-name").value = this.hooks.me().display_name || "";
    $("settings-dialog").showModal();
    $("settings-display-name").focus();
  }

  async rename(event) {
    event.preventDefault();
    const displayName = $("settings-display-name").value.trim();
    $("name-error").textContent = "";
    $("name-done").textContent = "";
    if (!displayName) {
      $("name-error").textContent = "Enter a display name.";
      return;
    }
    try {
      const user = await this.hooks.session.request("PATCH", "/v1/auth/me", { display_name: displayName });
      this.hooks.renamed(user);
      $("name-done").textContent = "Display name saved.";
    } catch (error) {
      $("name-error").textContent = describe(error);
    }
  }

  async changePassword(event) {
    event.preventDefault();
    const current = $("settings-current-password").value;
    const next = $("settings-new-password").value;
    $("password-error").textContent = "";
    $("password-done").textContent = "";
    if (next.length < 8) {
      $("password-error").textContent = "The new password has at least 8 characters.";
      $("settings-new-password").focus();
      return;
    }
    try {
      await this.hooks.session.requestOnce("POST", "/v1/auth/password", {
        current_password: current,
        new_password: next,
      });
      $("password-form").reset();
      $("password-done").textContent = "Password changed. Your other logins have ended.";
    } catch (error) {
      $("password-error").textContent =
        error instanceof ApiError && error.status === 401 ? "The current password is wrong." : describe(error);
    }
  }
}

function describe(error) {
  return error instanceof ApiError ? error.detail : "The server cannot be reached.";
}
