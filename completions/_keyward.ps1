
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'keyward' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'keyward'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'keyward' {
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a key and print its secret, once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List keys with their status, expiry and last use')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one key in full: fields, lineage, last use and recent events')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Replace a key with zero downtime: the new key is live at once, the old one for a grace period')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Change when a running grace period ends, or an active key''s expiry')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Make a key invalid at once (the record stays for audit)')
            [CompletionResult]::new('retire', 'retire', [CompletionResultType]::ParameterValue, 'End the grace of keys that nothing has used for a while')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Rename an active key, add or remove scopes, or set its note')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Read the activity log, newest first, or check its hash chain')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a presented secret, read from stdin or an environment variable')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show or change the vault''s settings (max-keys, prefix, rotate-every)')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy the whole vault into an empty SQLite file or PostgreSQL database')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Answer verifications over HTTP for services and reverse proxies')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            break
        }
        'keyward;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The key''s name, unique among the environment''s active keys [default: its id]')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment the key belongs to [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'When the key stops verifying [default: asked on a terminal, else never]')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'A scope the key grants (repeat for several)')
            [CompletionResult]::new('--prefix', '--prefix', [CompletionResultType]::ParameterName, 'The secret''s prefix, e.g. sk_live [default: the vault''s prefix setting]')
            [CompletionResult]::new('--rotate-every', '--rotate-every', [CompletionResultType]::ParameterName, 'Rotate this key every DUR (30d, 90d, 12w) or never; `list --due` shows it when due [default: the rotate-every setting]')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note for people: who owns the key, what it is for')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Who the key belongs to: an account id of your product (Unkey''s externalId); max-keys-per-owner counts by it')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'Metadata for your product: a JSON object of at most 4 KiB, returned by verify')
            [CompletionResult]::new('--ratelimit', '--ratelimit', [CompletionResultType]::ParameterName, 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)')
            [CompletionResult]::new('--no-ratelimit', '--no-ratelimit', [CompletionResultType]::ParameterName, 'Drop the rate limit of this name (repeatable)')
            [CompletionResult]::new('--credits', '--credits', [CompletionResultType]::ParameterName, 'Verifications left: a number, or unlimited')
            [CompletionResult]::new('--add-credits', '--add-credits', [CompletionResultType]::ParameterName, 'Add to the credits left')
            [CompletionResult]::new('--refill', '--refill', [CompletionResultType]::ParameterName, 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--no-refill', '--no-refill', [CompletionResultType]::ParameterName, 'Stop refilling the credits')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'keyward;list' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Only keys of this environment [default: $KEYWARD_ENV, else all]')
            [CompletionResult]::new('--expiring-within', '--expiring-within', [CompletionResultType]::ParameterName, 'Only keys whose expiry or grace ends within DUR (e.g. 7d)')
            [CompletionResult]::new('--unused-for', '--unused-for', [CompletionResultType]::ParameterName, 'Only keys not verified for DUR, or never (e.g. 30d)')
            [CompletionResult]::new('--within', '--within', [CompletionResultType]::ParameterName, 'With --due: also keys that will be due within DUR (e.g. 7d)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Only keys of this owner (see create --owner)')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include expired and revoked keys')
            [CompletionResult]::new('--due', '--due', [CompletionResultType]::ParameterName, 'Only active keys whose rotation policy says they are due (see create --rotate-every)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;show' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;rotate' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'How long the old key keeps verifying: now, 1h, 24h, 3d, 7d, any duration or an RFC 3339 time')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'The new key''s expiry [default: the old key''s lifetime again, else never]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The new key''s name [default: the old key''s name]')
            [CompletionResult]::new('--rotate-every', '--rotate-every', [CompletionResultType]::ParameterName, 'The new key''s rotation policy: DUR or never [default: the old key''s]')
            [CompletionResult]::new('--ratelimit', '--ratelimit', [CompletionResultType]::ParameterName, 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)')
            [CompletionResult]::new('--no-ratelimit', '--no-ratelimit', [CompletionResultType]::ParameterName, 'Drop the rate limit of this name (repeatable)')
            [CompletionResult]::new('--credits', '--credits', [CompletionResultType]::ParameterName, 'Verifications left: a number, or unlimited')
            [CompletionResult]::new('--add-credits', '--add-credits', [CompletionResultType]::ParameterName, 'Add to the credits left')
            [CompletionResult]::new('--refill', '--refill', [CompletionResultType]::ParameterName, 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--no-refill', '--no-refill', [CompletionResultType]::ParameterName, 'Stop refilling the credits')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'keyward;extend' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'End a running grace period DUR from now instead (longer or shorter; now ends it)')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'Set an active key''s expiry to DUR from now, a future time, or never (to end a key now, revoke it)')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;revoke' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the activity log')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--leaked', '--leaked', [CompletionResultType]::ParameterName, 'Read leaked secrets on stdin, one per line (a scanner''s output), and end every key they belong to')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required without a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;retire' {
            [CompletionResult]::new('--quiet-for', '--quiet-for', [CompletionResultType]::ParameterName, 'End keys in grace not used (nor rotated) for longer than this, e.g. 1h, 30m, 1d (at least 2m: last use is recorded at most once a minute)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Only keys of this environment [default: $KEYWARD_ENV, else all]')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List the keys that would be ended, and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (required without a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'keyward;update' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A new name, unique among the environment''s active keys')
            [CompletionResult]::new('--add-scope', '--add-scope', [CompletionResultType]::ParameterName, 'A scope to grant (repeatable)')
            [CompletionResult]::new('--remove-scope', '--remove-scope', [CompletionResultType]::ParameterName, 'A scope to take away (repeatable; one the key lacks is ignored)')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A new note ("" clears it)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'A new owner ("" clears it): an account id of your product (Unkey''s externalId); max-keys-per-owner counts by it')
            [CompletionResult]::new('--meta', '--meta', [CompletionResultType]::ParameterName, 'New metadata ("" clears it): a JSON object of at most 4 KiB, returned by verify')
            [CompletionResult]::new('--ratelimit', '--ratelimit', [CompletionResultType]::ParameterName, 'A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)')
            [CompletionResult]::new('--no-ratelimit', '--no-ratelimit', [CompletionResultType]::ParameterName, 'Drop the rate limit of this name (repeatable)')
            [CompletionResult]::new('--credits', '--credits', [CompletionResultType]::ParameterName, 'Verifications left: a number, or unlimited')
            [CompletionResult]::new('--add-credits', '--add-credits', [CompletionResultType]::ParameterName, 'Add to the credits left')
            [CompletionResult]::new('--refill', '--refill', [CompletionResultType]::ParameterName, 'Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--no-refill', '--no-refill', [CompletionResultType]::ParameterName, 'Stop refilling the credits')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;log' {
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Only events of this environment (and where KEY is a name, look it up here) [default: $KEYWARD_ENV, else all]')
            [CompletionResult]::new('--event', '--event', [CompletionResultType]::ParameterName, 'Only events of this type (repeatable)')
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Only events by this actor')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events since this long ago (24h, 7d) or since this RFC 3339 time')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'Only events older than this event id: the next page after a page''s last id')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many events')
            [CompletionResult]::new('--anchor', '--anchor', [CompletionResultType]::ParameterName, 'With --verify: also fail unless the log still holds this event with this hash (repeatable; from `log --head`)')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Check the log''s hash chain instead: exit 0 when intact, 1 naming the first bad event')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'Print the newest event''s id and hash (ID:HASH), to keep outside the vault as an anchor')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;verify' {
            [CompletionResult]::new('--key-env', '--key-env', [CompletionResultType]::ParameterName, 'Read the secret from this environment variable instead of stdin')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Only a key of this environment is valid [default: $KEYWARD_ENV, else any]')
            [CompletionResult]::new('--require-scope', '--require-scope', [CompletionResultType]::ParameterName, 'Fail with INSUFFICIENT_SCOPE unless the key has this scope (repeatable)')
            [CompletionResult]::new('--cost', '--cost', [CompletionResultType]::ParameterName, 'What this verification costs in credits and in each rate limit (0 checks without spending)')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;config' {
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Change a setting: max-keys (active keys per environment), prefix, or rotate-every (new keys'' rotation policy)')
            break
        }
        'keyward;config;set' {
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;copy' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Where to copy the vault: a file path, or a postgres:// URL')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'keyward;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'The address and port to listen on (port 0 picks a free one) [default: 127.0.0.1:8080]')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Only keys of this environment verify (a request''s env may narrow, never widen) [default: $KEYWARD_ENV, else all]')
            [CompletionResult]::new('--root-key-env', '--root-key-env', [CompletionResultType]::ParameterName, 'Enable Unkey''s /v2/keys.verifyKey, whose callers must send this variable''s value as their root key')
            [CompletionResult]::new('--admin-env', '--admin-env', [CompletionResultType]::ParameterName, 'Enable administration over HTTP in Unkey''s shapes (keys.createKey, keys.rerollKey, …): keys of this environment are root keys, their scopes root permissions such as api.*.create_key')
            [CompletionResult]::new('--github-keys', '--github-keys', [CompletionResultType]::ParameterName, 'Take GitHub''s secret-scanning reports on POST /v1/leaks/github, checked against GitHub''s key list from this file or https URL (read again hourly)')
            [CompletionResult]::new('--gitlab-token-env', '--gitlab-token-env', [CompletionResultType]::ParameterName, 'Take GitLab''s token revocation calls on /v1/revoke_tokens, which must carry this variable''s value')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'The format of the log lines on stderr: text (one human-readable line per event) or json (one JSON object per line) [default: text]')
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--admin-allow-plain-http', '--admin-allow-plain-http', [CompletionResultType]::ParameterName, 'Let the admin routes answer plain HTTP from other hosts too (TLS belongs to a proxy on this host)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'keyward;completions' {
            [CompletionResult]::new('--vault', '--vault', [CompletionResultType]::ParameterName, 'The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout (errors as JSON on stderr)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
