# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_keyward_global_optspecs
    string join \n vault= json actor= h/help V/version
end

function __fish_keyward_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_keyward_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_keyward_using_subcommand
    set -l cmd (__fish_keyward_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c keyward -n "__fish_keyward_needs_command" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_needs_command" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_needs_command" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyward -n "__fish_keyward_needs_command" -s V -l version -d 'Print version'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "create" -d 'Create a key and print its secret, once'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "list" -d 'List keys with their status, expiry and last use'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "show" -d 'Show one key in full: fields, lineage, last use and recent events'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "rotate" -d 'Replace a key with zero downtime: the new key is live at once, the old one for a grace period'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "extend" -d 'Change when a running grace period ends, or an active key\'s expiry'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "revoke" -d 'Make a key invalid at once (the record stays for audit)'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "retire" -d 'End the grace of keys that nothing has used for a while'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "update" -d 'Rename an active key, add or remove scopes, or set its note'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "log" -d 'Read the activity log, newest first, or check its hash chain'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "verify" -d 'Check a presented secret, read from stdin or an environment variable'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "config" -d 'Show or change the vault\'s settings (max-keys, prefix, rotate-every)'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "copy" -d 'Copy the whole vault into an empty SQLite file or PostgreSQL database'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "serve" -d 'Answer verifications over HTTP for services and reverse proxies'
complete -c keyward -n "__fish_keyward_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c keyward -n "__fish_keyward_using_subcommand create" -l name -d 'The key\'s name, unique among the environment\'s active keys [default: its id]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l env -d 'The environment the key belongs to [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l expires -d 'When the key stops verifying [default: asked on a terminal, else never]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l scope -d 'A scope the key grants (repeat for several)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l prefix -d 'The secret\'s prefix, e.g. sk_live [default: the vault\'s prefix setting]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l rotate-every -d 'Rotate this key every DUR (30d, 90d, 12w) or never; `list --due` shows it when due [default: the rotate-every setting]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l note -d 'A note for people: who owns the key, what it is for' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l owner -d 'Who the key belongs to: an account id of your product (Unkey\'s externalId); max-keys-per-owner counts by it' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l meta -d 'Metadata for your product: a JSON object of at most 4 KiB, returned by verify' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l ratelimit -d 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l no-ratelimit -d 'Drop the rate limit of this name (repeatable)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l credits -d 'Verifications left: a number, or unlimited' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l add-credits -d 'Add to the credits left' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l refill -d 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand create" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand create" -l no-refill -d 'Stop refilling the credits'
complete -c keyward -n "__fish_keyward_using_subcommand create" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyward -n "__fish_keyward_using_subcommand list" -l env -d 'Only keys of this environment [default: $KEYWARD_ENV, else all]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l expiring-within -d 'Only keys whose expiry or grace ends within DUR (e.g. 7d)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l unused-for -d 'Only keys not verified for DUR, or never (e.g. 30d)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l within -d 'With --due: also keys that will be due within DUR (e.g. 7d)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l owner -d 'Only keys of this owner (see create --owner)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand list" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand list" -l all -d 'Include expired and revoked keys'
complete -c keyward -n "__fish_keyward_using_subcommand list" -l due -d 'Only active keys whose rotation policy says they are due (see create --rotate-every)'
complete -c keyward -n "__fish_keyward_using_subcommand list" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand list" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand show" -l env -d 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand show" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand show" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand show" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand show" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l env -d 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l grace -d 'How long the old key keeps verifying: now, 1h, 24h, 3d, 7d, any duration or an RFC 3339 time' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l expires -d 'The new key\'s expiry [default: the old key\'s lifetime again, else never]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l name -d 'The new key\'s name [default: the old key\'s name]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l rotate-every -d 'The new key\'s rotation policy: DUR or never [default: the old key\'s]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l ratelimit -d 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l no-ratelimit -d 'Drop the rate limit of this name (repeatable)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l credits -d 'Verifications left: a number, or unlimited' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l add-credits -d 'Add to the credits left' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l refill -d 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l no-refill -d 'Stop refilling the credits'
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand rotate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l env -d 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l grace -d 'End a running grace period DUR from now instead (longer or shorter; now ends it)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l expires -d 'Set an active key\'s expiry to DUR from now, a future time, or never (to end a key now, revoke it)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand extend" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand extend" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l env -d 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l reason -d 'Why, for the activity log' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l leaked -d 'Read leaked secrets on stdin, one per line (a scanner\'s output), and end every key they belong to'
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -s y -l yes -d 'Do not ask for confirmation (required without a terminal)'
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand revoke" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l quiet-for -d 'End keys in grace not used (nor rotated) for longer than this, e.g. 1h, 30m, 1d (at least 2m: last use is recorded at most once a minute)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l env -d 'Only keys of this environment [default: $KEYWARD_ENV, else all]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l dry-run -d 'List the keys that would be ended, and change nothing'
complete -c keyward -n "__fish_keyward_using_subcommand retire" -s y -l yes -d 'Do not ask for confirmation (required without a terminal)'
complete -c keyward -n "__fish_keyward_using_subcommand retire" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand retire" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyward -n "__fish_keyward_using_subcommand update" -l env -d 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l name -d 'A new name, unique among the environment\'s active keys' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l add-scope -d 'A scope to grant (repeatable)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l remove-scope -d 'A scope to take away (repeatable; one the key lacks is ignored)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l note -d 'A new note ("" clears it)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l owner -d 'A new owner ("" clears it): an account id of your product (Unkey\'s externalId); max-keys-per-owner counts by it' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l meta -d 'New metadata ("" clears it): a JSON object of at most 4 KiB, returned by verify' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l ratelimit -d 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l no-ratelimit -d 'Drop the rate limit of this name (repeatable)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l credits -d 'Verifications left: a number, or unlimited' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l add-credits -d 'Add to the credits left' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l refill -d 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand update" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand update" -l no-refill -d 'Stop refilling the credits'
complete -c keyward -n "__fish_keyward_using_subcommand update" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand update" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand log" -l env -d 'Only events of this environment (and where KEY is a name, look it up here) [default: $KEYWARD_ENV, else all]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l event -d 'Only events of this type (repeatable)' -r -f -a "created\t''
rotated\t''
grace_changed\t''
expiry_changed\t''
revoked\t''
updated\t''
config_changed\t''
quota_changed\t''"
complete -c keyward -n "__fish_keyward_using_subcommand log" -l by -d 'Only events by this actor' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l since -d 'Only events since this long ago (24h, 7d) or since this RFC 3339 time' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l before -d 'Only events older than this event id: the next page after a page\'s last id' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l limit -d 'At most this many events' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l anchor -d 'With --verify: also fail unless the log still holds this event with this hash (repeatable; from `log --head`)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand log" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand log" -l verify -d 'Check the log\'s hash chain instead: exit 0 when intact, 1 naming the first bad event'
complete -c keyward -n "__fish_keyward_using_subcommand log" -l head -d 'Print the newest event\'s id and hash (ID:HASH), to keep outside the vault as an anchor'
complete -c keyward -n "__fish_keyward_using_subcommand log" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand log" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l key-env -d 'Read the secret from this environment variable instead of stdin' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l env -d 'Only a key of this environment is valid [default: $KEYWARD_ENV, else any]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l require-scope -d 'Fail with INSUFFICIENT_SCOPE unless the key has this scope (repeatable)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l cost -d 'What this verification costs in credits and in each rate limit (0 checks without spending)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand verify" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand verify" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand config; and not __fish_seen_subcommand_from set" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand config; and not __fish_seen_subcommand_from set" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand config; and not __fish_seen_subcommand_from set" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand config; and not __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand config; and not __fish_seen_subcommand_from set" -f -a "set" -d 'Change a setting: max-keys (active keys per environment), prefix, or rotate-every (new keys\' rotation policy)'
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand copy" -l to -d 'Where to copy the vault: a file path, or a postgres:// URL' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand copy" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand copy" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand copy" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand copy" -s h -l help -d 'Print help'
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l listen -d 'The address and port to listen on (port 0 picks a free one) [default: 127.0.0.1:8080]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l env -d 'Only keys of this environment verify (a request\'s env may narrow, never widen) [default: $KEYWARD_ENV, else all]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l root-key-env -d 'Enable Unkey\'s /v2/keys.verifyKey, whose callers must send this variable\'s value as their root key' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l admin-env -d 'Enable administration over HTTP in Unkey\'s shapes (keys.createKey, keys.rerollKey, …): keys of this environment are root keys, their scopes root permissions such as api.*.create_key' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l github-keys -d 'Take GitHub\'s secret-scanning reports on POST /v1/leaks/github, checked against GitHub\'s key list from this file or https URL (read again hourly)' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l gitlab-token-env -d 'Take GitLab\'s token revocation calls on /v1/revoke_tokens, which must carry this variable\'s value' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l log-format -d 'The format of the log lines on stderr: text (one human-readable line per event) or json (one JSON object per line) [default: text]' -r -f -a "text\t'One human-readable line per event'
json\t'One JSON object per line'"
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l admin-allow-plain-http -d 'Let the admin routes answer plain HTTP from other hosts too (TLS belongs to a proxy on this host)'
complete -c keyward -n "__fish_keyward_using_subcommand serve" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c keyward -n "__fish_keyward_using_subcommand completions" -l vault -d 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]' -r -F
complete -c keyward -n "__fish_keyward_using_subcommand completions" -l actor -d 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]' -r -f
complete -c keyward -n "__fish_keyward_using_subcommand completions" -l json -d 'Print one JSON document on stdout (errors as JSON on stderr)'
complete -c keyward -n "__fish_keyward_using_subcommand completions" -s h -l help -d 'Print help'

# Added by keyward: values clap does not describe, and names from the vault
# (keyward __complete, told the --vault and --env already on the line).
function __keyward_names
    set -l words (commandline -opc)
    set -l args $argv[1]
    for i in (seq (count $words))
        switch $words[$i]
            case --env --vault
                set -l j (math $i + 1)
                if test $j -le (count $words)
                    set args $args $words[$i] $words[$j]
                end
        end
    end
    keyward __complete $args 2>/dev/null
end
complete -c keyward -n "__fish_keyward_using_subcommand completions" -f -a "bash zsh fish elvish powershell"
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -f -a "max-keys prefix"
for sub in show rotate extend revoke update log
    complete -c keyward -n "__fish_keyward_using_subcommand $sub" -f -a "(__keyward_names keys)"
end
complete -c keyward -l env -f -r -a "(__keyward_names envs)"
