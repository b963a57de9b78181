
use builtin;
use str;

set edit:completion:arg-completer[keyward] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'keyward'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'keyward'= {
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a key and print its secret, once'
            cand list 'List keys with their status, expiry and last use'
            cand show 'Show one key in full: fields, lineage, last use and recent events'
            cand rotate 'Replace a key with zero downtime: the new key is live at once, the old one for a grace period'
            cand extend 'Change when a running grace period ends, or an active key''s expiry'
            cand revoke 'Make a key invalid at once (the record stays for audit)'
            cand retire 'End the grace of keys that nothing has used for a while'
            cand update 'Rename an active key, add or remove scopes, or set its note'
            cand log 'Read the activity log, newest first, or check its hash chain'
            cand verify 'Check a presented secret, read from stdin or an environment variable'
            cand config 'Show or change the vault''s settings (max-keys, prefix, rotate-every)'
            cand copy 'Copy the whole vault into an empty SQLite file or PostgreSQL database'
            cand serve 'Answer verifications over HTTP for services and reverse proxies'
            cand completions 'Print a shell completion script'
        }
        &'keyward;create'= {
            cand --name 'The key''s name, unique among the environment''s active keys [default: its id]'
            cand --env 'The environment the key belongs to [default: $KEYWARD_ENV, else default]'
            cand --expires 'When the key stops verifying [default: asked on a terminal, else never]'
            cand --scope 'A scope the key grants (repeat for several)'
            cand --prefix 'The secret''s prefix, e.g. sk_live [default: the vault''s prefix setting]'
            cand --rotate-every 'Rotate this key every DUR (30d, 90d, 12w) or never; `list --due` shows it when due [default: the rotate-every setting]'
            cand --note 'A note for people: who owns the key, what it is for'
            cand --owner 'Who the key belongs to: an account id of your product (Unkey''s externalId); max-keys-per-owner counts by it'
            cand --meta 'Metadata for your product: a JSON object of at most 4 KiB, returned by verify'
            cand --ratelimit 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)'
            cand --no-ratelimit 'Drop the rate limit of this name (repeatable)'
            cand --credits 'Verifications left: a number, or unlimited'
            cand --add-credits 'Add to the credits left'
            cand --refill 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --no-refill 'Stop refilling the credits'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'keyward;list'= {
            cand --env 'Only keys of this environment [default: $KEYWARD_ENV, else all]'
            cand --expiring-within 'Only keys whose expiry or grace ends within DUR (e.g. 7d)'
            cand --unused-for 'Only keys not verified for DUR, or never (e.g. 30d)'
            cand --within 'With --due: also keys that will be due within DUR (e.g. 7d)'
            cand --owner 'Only keys of this owner (see create --owner)'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --all 'Include expired and revoked keys'
            cand --due 'Only active keys whose rotation policy says they are due (see create --rotate-every)'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;show'= {
            cand --env 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;rotate'= {
            cand --env 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]'
            cand --grace 'How long the old key keeps verifying: now, 1h, 24h, 3d, 7d, any duration or an RFC 3339 time'
            cand --expires 'The new key''s expiry [default: the old key''s lifetime again, else never]'
            cand --name 'The new key''s name [default: the old key''s name]'
            cand --rotate-every 'The new key''s rotation policy: DUR or never [default: the old key''s]'
            cand --ratelimit 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)'
            cand --no-ratelimit 'Drop the rate limit of this name (repeatable)'
            cand --credits 'Verifications left: a number, or unlimited'
            cand --add-credits 'Add to the credits left'
            cand --refill 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --no-refill 'Stop refilling the credits'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'keyward;extend'= {
            cand --env 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]'
            cand --grace 'End a running grace period DUR from now instead (longer or shorter; now ends it)'
            cand --expires 'Set an active key''s expiry to DUR from now, a future time, or never (to end a key now, revoke it)'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;revoke'= {
            cand --env 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]'
            cand --reason 'Why, for the activity log'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --leaked 'Read leaked secrets on stdin, one per line (a scanner''s output), and end every key they belong to'
            cand -y 'Do not ask for confirmation (required without a terminal)'
            cand --yes 'Do not ask for confirmation (required without a terminal)'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;retire'= {
            cand --quiet-for 'End keys in grace not used (nor rotated) for longer than this, e.g. 1h, 30m, 1d (at least 2m: last use is recorded at most once a minute)'
            cand --env 'Only keys of this environment [default: $KEYWARD_ENV, else all]'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --dry-run 'List the keys that would be ended, and change nothing'
            cand -y 'Do not ask for confirmation (required without a terminal)'
            cand --yes 'Do not ask for confirmation (required without a terminal)'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'keyward;update'= {
            cand --env 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]'
            cand --name 'A new name, unique among the environment''s active keys'
            cand --add-scope 'A scope to grant (repeatable)'
            cand --remove-scope 'A scope to take away (repeatable; one the key lacks is ignored)'
            cand --note 'A new note ("" clears it)'
            cand --owner 'A new owner ("" clears it): an account id of your product (Unkey''s externalId); max-keys-per-owner counts by it'
            cand --meta 'New metadata ("" clears it): a JSON object of at most 4 KiB, returned by verify'
            cand --ratelimit 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)'
            cand --no-ratelimit 'Drop the rate limit of this name (repeatable)'
            cand --credits 'Verifications left: a number, or unlimited'
            cand --add-credits 'Add to the credits left'
            cand --refill 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --no-refill 'Stop refilling the credits'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;log'= {
            cand --env 'Only events of this environment (and where KEY is a name, look it up here) [default: $KEYWARD_ENV, else all]'
            cand --event 'Only events of this type (repeatable)'
            cand --by 'Only events by this actor'
            cand --since 'Only events since this long ago (24h, 7d) or since this RFC 3339 time'
            cand --before 'Only events older than this event id: the next page after a page''s last id'
            cand --limit 'At most this many events'
            cand --anchor 'With --verify: also fail unless the log still holds this event with this hash (repeatable; from `log --head`)'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --verify 'Check the log''s hash chain instead: exit 0 when intact, 1 naming the first bad event'
            cand --head 'Print the newest event''s id and hash (ID:HASH), to keep outside the vault as an anchor'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;verify'= {
            cand --key-env 'Read the secret from this environment variable instead of stdin'
            cand --env 'Only a key of this environment is valid [default: $KEYWARD_ENV, else any]'
            cand --require-scope 'Fail with INSUFFICIENT_SCOPE unless the key has this scope (repeatable)'
            cand --cost 'What this verification costs in credits and in each rate limit (0 checks without spending)'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;config'= {
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand set 'Change a setting: max-keys (active keys per environment), prefix, or rotate-every (new keys'' rotation policy)'
        }
        &'keyward;config;set'= {
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;copy'= {
            cand --to 'Where to copy the vault: a file path, or a postgres:// URL'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'keyward;serve'= {
            cand --listen 'The address and port to listen on (port 0 picks a free one) [default: 127.0.0.1:8080]'
            cand --env 'Only keys of this environment verify (a request''s env may narrow, never widen) [default: $KEYWARD_ENV, else all]'
            cand --root-key-env 'Enable Unkey''s /v2/keys.verifyKey, whose callers must send this variable''s value as their root key'
            cand --admin-env 'Enable administration over HTTP in Unkey''s shapes (keys.createKey, keys.rerollKey, …): keys of this environment are root keys, their scopes root permissions such as api.*.create_key'
            cand --github-keys 'Take GitHub''s secret-scanning reports on POST /v1/leaks/github, checked against GitHub''s key list from this file or https URL (read again hourly)'
            cand --gitlab-token-env 'Take GitLab''s token revocation calls on /v1/revoke_tokens, which must carry this variable''s value'
            cand --log-format 'The format of the log lines on stderr: text (one human-readable line per event) or json (one JSON object per line) [default: text]'
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --admin-allow-plain-http 'Let the admin routes answer plain HTTP from other hosts too (TLS belongs to a proxy on this host)'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'keyward;completions'= {
            cand --vault 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]'
            cand --actor 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]'
            cand --json 'Print one JSON document on stdout (errors as JSON on stderr)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
    ]
    $completions[$command]
}
