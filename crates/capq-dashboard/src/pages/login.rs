//! The login form shown when a token is required and the request has none: served with 401
//! by the guard, and at `GET /login`. Posting it to `/login` sets the session cookie.

use maud::{DOCTYPE, Markup, html};

use crate::assets;

/// The form; `next` is where to go after logging in, `message` why the form is shown.
pub fn page(next: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · capq" }
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(assets::url("app.css"));
            }
            body {
                main.narrow {
                    div.panel.login {
                        h1 { "capq dashboard" }
                        @if let Some(message) = message {
                            p.error-text #error-message { (message) }
                        }
                        form method="post" action="/login" {
                            input type="hidden" name="next" value=(next);
                            label for="token" { "Token" }
                            input #token type="password" name="token" autocomplete="current-password" autofocus required;
                            button.primary type="submit" { "Log in" }
                        }
                        p.muted { "The token is the one the dashboard was started with (" code { "--token" } " or "
                            code { "CAPQ_DASHBOARD_TOKEN" } "). Programs can send it as " code { "Authorization: Bearer …" } " instead." }
                    }
                }
            }
        }
    }
}
