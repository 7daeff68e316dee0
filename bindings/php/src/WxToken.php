<?php

declare(strict_types=1);

namespace WxToken;

use FFI;
use FFI\CData;

/**
 * WeChat access tokens through libwxtoken (FFI): one refresher per app for all the PHP-FPM
 * workers, processes and hosts that share a store. Conversions only: the token logic is
 * the library's (see docs/design.md, "The contract").
 *
 *     $wx  = new WxToken\WxToken();
 *     $app = $wx->configure('wx1234567890abcdef', $secret, ['store' => 'file']);
 *     $token = $wx->get($app);
 *
 * Loading: under opcache.preload with the WXTOKEN scope (preload.php) the preloaded scope
 * is used; otherwise the header is parsed with FFI::cdef() once per process (CLI) or per
 * request (PHP-FPM without preload).
 */
class WxToken
{
    /** The FFI scope preload.php declares. */
    public const SCOPE = 'WXTOKEN';

    /** Size of the first buffer a token or a status is copied into. */
    private const FIRST_BUFFER = 1024;

    private const OK = 0;
    private const BUFFER_TOO_SMALL = 13;

    /** wxtoken_status -> exception class; kind and status ride along in the exception. */
    private const ERRORS = [
        1 => CredentialsRejectedException::class,
        2 => IpNotAllowedException::class,
        3 => QuotaExhaustedException::class,
        4 => UpstreamException::class,
        5 => NetworkException::class,
        6 => TimeoutException::class,
        7 => BadResponseException::class,
        8 => StoreException::class,
        9 => NotConfiguredException::class,
        10 => InvalidArgumentException::class,
        11 => InvalidArgumentException::class, // WXTOKEN_NULL_POINTER
        12 => InvalidArgumentException::class, // WXTOKEN_INVALID_UTF8
        13 => InternalException::class,        // WXTOKEN_BUFFER_TOO_SMALL after the retry
        14 => InternalException::class,        // WXTOKEN_PANIC
    ];

    /** @var array<string, FFI> parsed library per "library\0header", for this process/request */
    private static array $loaded = [];

    private FFI $ffi;
    private string $via;
    /** The reused first buffer, its length cell, and a pointer to that cell. */
    private CData $buf;
    private CData $len;
    private CData $lenPtr;
    /**
     * @var array<string, array<string, array{CData, int, string}>> per loaded library ($via:
     *   its words are its own) and app: the app's fresh word (wxtoken_fresh_word), the value
     *   it had when the token string handed out last was copied, and that string. While the
     *   word keeps that value, get() returns that very string: one memory read, no FFI
     *   call, no copy, no new string. Static, so no dump or cast of an instance shows it.
     */
    private static array $fresh = [];

    /**
     * @param string|null $library path of libwxtoken.so (a bare file name is left to the
     *   dynamic loader's search path). Default: the preloaded WXTOKEN scope if there is
     *   one, else the WXTOKEN_LIB environment variable, else the package's own build
     *   (target/release of the repository this package lives in).
     * @throws LoadException when ext-ffi, the library or the header is missing or refused.
     */
    public function __construct(?string $library = null)
    {
        [$this->ffi, $this->via] = self::open($library);
        $this->buf = $this->ffi->new('char[' . self::FIRST_BUFFER . ']');
        $this->len = $this->ffi->new('size_t');
        $this->lenPtr = FFI::addr($this->len);
        Log::install($this->ffi);
    }

    /**
     * Where wxtoken's log records go (docs/logging.md): $logger is called as
     * `$logger(string $level, string $message, array $context)` with a PSR-3 level name
     * ('error', 'warning', 'info', 'debug'), one line of text, and the record's fields in
     * $context: event (a stable name such as 'token_refreshed', 'refresh_failed',
     * 'credentials_rejected'), app, ts, pid, generation, errcode, kind, duration_ms...
     * Never a token or a secret. A Psr\Log\LoggerInterface fits as [$psrLogger, 'log'].
     * null: error_log() (the default). Records below $level ('off': none) are not kept.
     * Records are delivered on PHP's thread after configure(), invalidate(), status(),
     * any failure, at the end of the request, or on drainLog().
     *
     * @param (callable(string, string, array<string, mixed>): void)|null $logger
     * @throws InvalidArgumentException for a level that is no PSR-3 level nor 'off'
     */
    public function setLogger(?callable $logger, string $level = 'warning'): void
    {
        Log::setLogger($this->ffi, $logger, $level);
    }

    /** Delivers the queued log records now; returns how many there were. */
    public function drainLog(): int
    {
        return Log::drain();
    }

    /**
     * Registers an app (or replaces its settings). An empty appid or secret is taken from
     * WXTOKEN_APPID / WXTOKEN_SECRET (or WXTOKEN_SECRET_FILE); options left out fall back to
     * their WXTOKEN_* environment variables, then to the defaults.
     *
     * @param array<string, string|int|null> $options name, platform (mp|wecom), mode
     *   (token|stable), api_base, store (memory|file|file:/dir|redis://...),
     *   refresh_margin_s, timeout_ms, wait_ms, key_prefix, redis_ca_file,
     *   daily_fetch_budget. Unknown keys are refused.
     * @return string the name to pass to get(), invalidate(), status() and call()
     * @throws InvalidArgumentException for a bad appid, secret or option
     */
    public function configure(string $appid, #[\SensitiveParameter] string $secret, array $options = []): string
    {
        self::noNul($appid, 'appid');
        self::noNul($secret, 'secret');
        try {
            // (object): an empty array must go out as {} and not as [].
            $json = json_encode((object) $options, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
        } catch (\JsonException $e) {
            throw new InvalidArgumentException('options cannot be encoded as JSON: ' . $e->getMessage(), previous: $e);
        }
        // The library says which name it registered (name option, WXTOKEN_NAME or appid).
        $status = $this->ffi->wxtoken_configure_named($appid, $secret, $json, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        $name = $status === self::OK
            ? self::take($this->buf, $this->len->cdata)
            : $this->retryBigger($status, fn (CData $buf, int $cap): int
                => $this->ffi->wxtoken_configure_named($appid, $secret, $json, $buf, $cap, $this->lenPtr));
        Log::drain();
        return $name;
    }

    /**
     * A token the platform accepts now. A fresh one already handed out is the same string
     * again, for one read of the app's fresh word (no FFI call, no copy); a fresh one not
     * seen yet costs a map lookup and one copy; otherwise this waits (at most wait_ms) for
     * the one refresh in flight.
     *
     * @throws WxTokenException (a subclass) when no valid token can be had
     */
    public function get(string $app): string
    {
        // Only names that passed the NUL check below are ever kept.
        $kept = self::$fresh[$this->via][$app] ?? null;
        if ($kept !== null && $kept[0][0] === $kept[1]) {
            return $kept[2];
        }
        if (str_contains($app, "\0")) {
            throw self::nulError('app');
        }
        // NULL (PHP null) until the app is configured in this process.
        $word = $kept[0] ?? $this->ffi->wxtoken_fresh_word($app);
        // Read before the copy: a copy kept under a word's value is that value's token or
        // newer, and a newer one means the word has moved on (see wxtoken_fresh_word).
        $value = $word === null ? 0 : $word[0];
        $status = $this->ffi->wxtoken_get($app, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        $token = $status === self::OK
            ? self::take($this->buf, $this->len->cdata)
            : $this->retryBigger($status, fn (CData $buf, int $cap): int
                => $this->ffi->wxtoken_get($app, $buf, $cap, $this->lenPtr));
        // A plain read of the word is enough: wxtoken_get loads the same word (with acquire
        // ordering) before it copies, so no read after it sees an older value. 64-bit PHP
        // only: a 32-bit int would keep half the word.
        if ($word !== null && PHP_INT_SIZE === 8) {
            // An odd value is a fresh token's; -1 never matches, so a string kept under it
            // only keeps the word's pointer for the next call.
            self::$fresh[$this->via][$app] = [$word, ($value & 1) === 1 ? $value : -1, $token];
        }
        return $token;
    }

    /**
     * Reports $badToken as refused by a business call (40001, 40014, 42001) and returns a
     * good token: if $badToken is still current, one refresh runs (the first reporter's);
     * if it has already been replaced, the current token comes back with no upstream call.
     *
     * @throws WxTokenException (a subclass)
     */
    public function invalidate(string $app, #[\SensitiveParameter] string $badToken): string
    {
        self::noNul($app, 'app');
        self::noNul($badToken, 'badToken');
        $status = $this->ffi->wxtoken_invalidate($app, $badToken, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        if ($status === self::OK) {
            $token = self::take($this->buf, $this->len->cdata);
            Log::drain();
            return $token;
        }
        return $this->retryBigger($status, fn (CData $buf, int $cap): int
            => $this->ffi->wxtoken_invalidate($app, $badToken, $buf, $cap, $this->lenPtr));
    }

    /**
     * The app's state in this process (never the token itself): name, appid, platform,
     * mode, api_base, store, refresh_margin_s, token {present, valid, fresh, generation,
     * fetched_at_ms, expires_at_ms, expires_in_ms, refresh_in_ms, length}, refreshing,
     * cooldown_ms, last_error {kind, errcode, errmsg} or null, stats.
     *
     * @return array<string, mixed>
     * @throws WxTokenException (a subclass)
     */
    public function status(string $app): array
    {
        self::noNul($app, 'app');
        $status = $this->ffi->wxtoken_status_json($app, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        $json = $status === self::OK
            ? self::take($this->buf, $this->len->cdata)
            : $this->retryBigger($status, fn (CData $buf, int $cap): int
                => $this->ffi->wxtoken_status_json($app, $buf, $cap, $this->lenPtr));
        Log::drain();
        try {
            $decoded = json_decode($json, true, 64, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InternalException('status JSON from the library does not parse: ' . $e->getMessage(), previous: $e);
        }
        if (!is_array($decoded)) {
            throw new InternalException('status JSON from the library is not an object');
        }
        return $decoded;
    }

    /**
     * The app's ticket of $kind, with the token's contract (one upstream call per app and
     * kind for all the processes sharing the store, refreshed before it expires):
     * 'jsapi' (the JS-SDK's wx.config), 'wx_card' (an Official Account's card ticket) or
     * 'agent_config' (WeCom's wx.agentConfig).
     *
     * @throws InvalidArgumentException for an unknown kind or one the app's platform lacks
     * @throws WxTokenException (a subclass) when no valid ticket can be had
     */
    public function getTicket(string $app, string $kind = 'jsapi'): string
    {
        self::noNul($app, 'app');
        self::noNul($kind, 'kind');
        $status = $this->ffi->wxtoken_get_ticket($app, $kind, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        if ($status === self::OK) {
            return self::take($this->buf, $this->len->cdata);
        }
        return $this->retryBigger($status, fn (CData $buf, int $cap): int
            => $this->ffi->wxtoken_get_ticket($app, $kind, $buf, $cap, $this->lenPtr));
    }

    /**
     * Reports $badTicket as refused (a page's wx.config failed with its signature) and
     * returns a good ticket of $kind: one refresh if $badTicket is still current, else the
     * current ticket with no upstream call.
     *
     * @throws WxTokenException (a subclass)
     */
    public function invalidateTicket(string $app, string $kind, #[\SensitiveParameter] string $badTicket): string
    {
        self::noNul($app, 'app');
        self::noNul($kind, 'kind');
        self::noNul($badTicket, 'badTicket');
        $status = $this->ffi->wxtoken_invalidate_ticket($app, $kind, $badTicket, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        if ($status === self::OK) {
            return self::take($this->buf, $this->len->cdata);
        }
        return $this->retryBigger($status, fn (CData $buf, int $cap): int
            => $this->ffi->wxtoken_invalidate_ticket($app, $kind, $badTicket, $buf, $cap, $this->lenPtr));
    }

    /**
     * The JS-SDK signature (40 lower-case hex digits): SHA-1 of
     * "jsapi_ticket=...&noncestr=...&timestamp=...&url=...", the URL without its #fragment.
     * Pure: no network.
     *
     * @throws InvalidArgumentException for a negative timestamp or a NUL in a string
     */
    public function jssdkSignature(#[\SensitiveParameter] string $ticket, string $nonceStr, int $timestamp, string $url): string
    {
        self::noNul($ticket, 'ticket');
        self::noNul($nonceStr, 'nonceStr');
        self::noNul($url, 'url');
        if ($timestamp < 0) {
            throw new InvalidArgumentException("timestamp is negative: {$timestamp}");
        }
        $status = $this->ffi->wxtoken_jssdk_signature($ticket, $nonceStr, $timestamp, $url, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        if ($status === self::OK) {
            return self::take($this->buf, $this->len->cdata);
        }
        throw $this->failure($status);
    }

    /**
     * The default name of a WeCom application, by the library's rule: the corp id, "-" and 16
     * hex digits of a hash of the secret, so two applications of one corp (each with its own
     * secret and token) never share a name. configure() itself defaults to the corp id;
     * WxToken\EasyWeChat\AccessToken::configure() gives this name to a WeCom app without one,
     * as Python's wxtoken.wechatpy.work client does. Pure: no app, no network.
     *
     * @throws InvalidArgumentException a NUL byte in either string
     */
    public function defaultWecomName(string $corpId, #[\SensitiveParameter] string $secret): string
    {
        self::noNul($corpId, 'corpId');
        self::noNul($secret, 'secret');
        $status = $this->ffi->wxtoken_default_wecom_name($corpId, $secret, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        return $status === self::OK
            ? self::take($this->buf, $this->len->cdata)
            : $this->retryBigger($status, fn (CData $buf, int $cap): int
                => $this->ffi->wxtoken_default_wecom_name($corpId, $secret, $buf, $cap, $this->lenPtr));
    }

    /**
     * What a page passes to wx.config for $url (its full URL; a #fragment is not signed):
     * the app's id, the current Unix time, a fresh nonce and the signature made with the
     * app's jsapi ticket. The ticket itself is not in it.
     *
     * @return array{appId: string, timestamp: int, nonceStr: string, signature: string}
     * @throws WxTokenException (a subclass)
     */
    public function jssdkConfig(string $app, string $url): array
    {
        self::noNul($app, 'app');
        self::noNul($url, 'url');
        $status = $this->ffi->wxtoken_jssdk_config_json($app, $url, $this->buf, self::FIRST_BUFFER, $this->lenPtr);
        $json = $status === self::OK
            ? self::take($this->buf, $this->len->cdata)
            : $this->retryBigger($status, fn (CData $buf, int $cap): int
                => $this->ffi->wxtoken_jssdk_config_json($app, $url, $buf, $cap, $this->lenPtr));
        try {
            $decoded = json_decode($json, true, 4, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new InternalException('JSSDK config JSON from the library does not parse: ' . $e->getMessage(), previous: $e);
        }
        if (!is_array($decoded) || !is_string($decoded['appId'] ?? null) || !is_int($decoded['timestamp'] ?? null)
            || !is_string($decoded['nonceStr'] ?? null) || !is_string($decoded['signature'] ?? null)) {
            throw new InternalException('JSSDK config JSON from the library lacks appId, timestamp, nonceStr or signature');
        }
        return [
            'appId' => $decoded['appId'],
            'timestamp' => $decoded['timestamp'],
            'nonceStr' => $decoded['nonceStr'],
            'signature' => $decoded['signature'],
        ];
    }

    /**
     * Runs $fn($token). If the business call reports a bad token, the token is invalidated
     * and $fn runs exactly once more with the new one; whatever that second run returns or
     * throws goes to the caller unchanged (no second retry).
     *
     * "Reports a bad token" means: $fn throws an exception whose errcode
     * (WxTokenException::getErrcode(), else getCode()) is one the library calls a bad-token
     * errcode, or returns an array (or decoded JSON object) whose `errcode` is one; an int
     * or its decimal string ("40001", as some decoders give it), see isBadTokenErrcode().
     * Any other result or exception is passed through at once.
     *
     * @template T
     * @param callable(string): T $fn
     * @return T
     * @throws WxTokenException when no token can be had, and whatever $fn throws
     */
    public function call(string $app, callable $fn): mixed
    {
        $token = $this->get($app);
        try {
            $result = $fn($token);
        } catch (\Exception $e) {
            if (!$this->isBadTokenErrcode(self::errcodeOfException($e))) {
                throw $e;
            }
            return $fn($this->invalidate($app, $token));
        }
        if ($this->isBadTokenErrcode(self::errcodeOfResult($result))) {
            return $fn($this->invalidate($app, $token));
        }
        return $result;
    }

    /**
     * Whether the library treats $errcode as "the token is bad" (40001, 40014, 42001): an
     * int, or the decimal string it prints as ("40001"; not " 40001" or "40001.0"). The
     * rule is the library's, the same in every binding; other types never count.
     */
    public function isBadTokenErrcode(mixed $errcode): bool
    {
        if (is_int($errcode)) {
            return (bool) $this->ffi->wxtoken_is_bad_token_errcode($errcode);
        }
        // A NUL would cut the string short on its way to C.
        return is_string($errcode) && !str_contains($errcode, "\0")
            && $this->ffi->wxtoken_is_bad_token_errcode_str($errcode);
    }

    /**
     * What var_dump() and print_r() show: never the FFI buffers (a token may pass through
     * them) or the library's handle.
     *
     * @return array<string, string>
     */
    public function __debugInfo(): array
    {
        return ['loadedVia' => $this->via];
    }

    /** The library's version. */
    public function version(): string
    {
        return self::cString($this->ffi->wxtoken_version());
    }

    /** How the library was loaded: "FFI::scope(WXTOKEN)" or "FFI::cdef(<library path>)". */
    public function loadedVia(): string
    {
        return $this->via;
    }

    /**
     * The header for FFI::load() in preload.php and for ffi.preload (ffi-header.php writes
     * it): wxtoken_ffi.h with the FFI_SCOPE and FFI_LIB lines in front. Resolves the library and the header like the constructor
     * (WXTOKEN_LIB, WXTOKEN_HEADER, then the package's own build).
     *
     * @throws LoadException
     */
    public static function preloadHeader(?string $library = null, ?string $header = null): string
    {
        $lib = self::findLibrary($library);
        if (str_contains($lib, '/')) {
            $lib = realpath($lib) ?: $lib;
        }
        if (preg_match('/["\\\\\r\n]/', $lib)) {
            throw new LoadException("library path cannot be put in an FFI_LIB line: {$lib}");
        }
        $text = self::readHeader($header);
        return '#define FFI_SCOPE "' . self::SCOPE . "\"\n#define FFI_LIB \"{$lib}\"\n" . $text;
    }

    // ---- loading ----------------------------------------------------------------------

    /** @return array{0: FFI, 1: string} */
    private static function open(?string $library): array
    {
        if (!extension_loaded('ffi')) {
            throw new LoadException('ext-ffi is not loaded: enable extension=ffi (Debian ships it in php8.x-common; source builds need --with-ffi)');
        }
        if ($library === null && self::preloadMayBeActive()) {
            $via = 'FFI::scope(' . self::SCOPE . ')';
            if (isset(self::$loaded[$via])) {
                return [self::$loaded[$via], $via];
            }
            try {
                $scope = FFI::scope(self::SCOPE);
            } catch (\FFI\Exception) {
                $scope = null; // not preloaded (or preload ran without preload.php): cdef below
            }
            if ($scope !== null) {
                try {
                    $scope->wxtoken_fresh_word(null); // the newest function: NULL in, NULL out
                } catch (\FFI\Exception $e) {
                    throw new LoadException('the preloaded FFI scope ' . self::SCOPE . ' lacks wxtoken_fresh_word: '
                        . 'its header (ffi.preload) predates this package; run ffi-header.php again and restart PHP-FPM',
                        previous: $e);
                }
                return [self::$loaded[$via] = $scope, $via];
            }
        }
        $lib = self::findLibrary($library);
        $headerPath = self::headerPath(null);
        $key = $lib . "\0" . $headerPath;
        $via = "FFI::cdef({$lib})";
        if (!isset(self::$loaded[$key])) {
            $text = self::readHeader(null);
            try {
                self::$loaded[$key] = FFI::cdef($text, $lib);
            } catch (\FFI\Exception $e) {
                $message = $e->getMessage();
                $hint = str_contains($message, 'ffi.enable')
                    ? ' (CLI: php -d ffi.enable=1; PHP-FPM: ffi.enable=preload with opcache.preload=' . dirname(__DIR__) . '/preload.php, see README.md)'
                    : " (library {$lib}, header {$headerPath})";
                $reason = str_starts_with($message, 'Failed loading') ? self::loaderReason($lib) : null;
                if ($reason !== null && !str_contains($message, $reason)) {
                    $message .= ": {$reason}";
                }
                throw new LoadException('cannot load libwxtoken through FFI: ' . $message . $hint, previous: $e);
            }
        }
        return [self::$loaded[$key], $via];
    }

    /**
     * Why the dynamic loader refuses $lib (its dlerror(), such as "undefined symbol: ..."),
     * which FFI's "Failed loading '...'" leaves out: asked again with the loader's own
     * dlopen(). Null when that cannot be asked or the library loads after all.
     */
    private static function loaderReason(string $lib): ?string
    {
        try {
            $dl = FFI::cdef('void *dlopen(const char *file, int mode); char *dlerror(void); int dlclose(void *handle);');
            $handle = $dl->dlopen($lib, 1); // RTLD_LAZY, as FFI's own attempt
            if ($handle !== null) {
                $dl->dlclose($handle);
                return null;
            }
            $error = $dl->dlerror();
            return $error === null ? null : FFI::string($error);
        } catch (\FFI\Exception) {
            return null; // no dlopen in the process (Windows): the message stays as FFI gave it
        }
    }

    private static function preloadMayBeActive(): bool
    {
        return strtolower((string) ini_get('ffi.enable')) === 'preload'
            || (string) ini_get('opcache.preload') !== '';
    }

    /**
     * The library to open: the given path, else WXTOKEN_LIB, else the package's own build.
     * A WXTOKEN_LIB that names no file is an error, not a reason to load another build.
     */
    private static function findLibrary(?string $library): string
    {
        $own = dirname(__DIR__, 3) . '/target/release/' . self::libraryFileName();
        $env = getenv('WXTOKEN_LIB');
        if ($library !== null) {
            [$path, $source] = [$library, 'the path given to new WxToken()'];
        } elseif (is_string($env) && $env !== '') {
            [$path, $source] = [$env, "WXTOKEN_LIB (so the package's own build {$own} was not tried)"];
        } else {
            [$path, $source] = [$own, "WXTOKEN_LIB is not set, so the package's own build"];
        }
        if ($path === '' || str_contains($path, "\0")) {
            throw new LoadException('library path is empty or holds a NUL byte');
        }
        // A bare file name is for the dynamic loader's search path (LD_LIBRARY_PATH, ldconfig).
        if (!str_contains($path, '/') || is_file($path)) {
            return $path;
        }
        throw new LoadException("libwxtoken not found: tried {$path} ({$source}). "
            . 'Build it with `cargo build --release` in the wxtoken repository, pass its path to '
            . 'new WxToken\\WxToken($path), or set WXTOKEN_LIB to the path of ' . self::libraryFileName());
    }

    private static function libraryFileName(): string
    {
        return match (PHP_OS_FAMILY) {
            'Darwin' => 'libwxtoken.dylib',
            'Windows' => 'wxtoken.dll',
            default => 'libwxtoken.so',
        };
    }

    private static function headerPath(?string $header): string
    {
        if ($header !== null) {
            return $header;
        }
        $env = getenv('WXTOKEN_HEADER');
        return is_string($env) && $env !== '' ? $env : dirname(__DIR__, 3) . '/include/wxtoken_ffi.h';
    }

    private static function readHeader(?string $header): string
    {
        $path = self::headerPath($header);
        $text = is_file($path) ? @file_get_contents($path) : false;
        if ($text === false) {
            throw new LoadException("wxtoken FFI header not found or unreadable: {$path} "
                . '(set WXTOKEN_HEADER, or build the library: build.rs writes include/wxtoken_ffi.h)');
        }
        return $text;
    }

    // ---- conversions ------------------------------------------------------------------

    /**
     * After a first call answered $status: on BUFFER_TOO_SMALL (the needed length is in
     * $this->len) retries once with a buffer that fits; else throws.
     *
     * @param \Closure(CData, int): int $again sensitive: it holds the secret or the bad token
     */
    private function retryBigger(int $status, #[\SensitiveParameter] \Closure $again): string
    {
        if ($status === self::BUFFER_TOO_SMALL) {
            $cap = $this->len->cdata + 1;
            $big = $this->ffi->new("char[{$cap}]");
            $status = $again($big, $cap);
            if ($status === self::OK) {
                return self::take($big, $this->len->cdata);
            }
        }
        throw $this->failure($status);
    }

    /** The exception for a failed call: class by status, errcode and message from the library. */
    private function failure(int $status): WxTokenException
    {
        $errcode = (int) $this->ffi->wxtoken_last_errcode();
        $message = $this->lastError();
        if ($message === '') {
            $message = self::cString($this->ffi->wxtoken_status_name($status));
        }
        $class = self::ERRORS[$status] ?? InternalException::class;
        // After the last error is read: the records of this failure go out first.
        Log::drain();
        $kind = match ($status) {
            11, 12 => InvalidArgumentException::KIND,
            default => isset(self::ERRORS[$status]) ? $class::KIND : 'internal',
        };
        return new $class($message, $errcode, $status, $kind);
    }

    private function lastError(): string
    {
        foreach ([self::FIRST_BUFFER, 16384] as $cap) {
            $buf = $cap === self::FIRST_BUFFER ? $this->buf : $this->ffi->new("char[{$cap}]");
            $status = $this->ffi->wxtoken_last_error($buf, $cap);
            if ($status !== self::BUFFER_TOO_SMALL) {
                return $status === self::OK ? FFI::string($buf) : '';
            }
        }
        return FFI::string($buf); // still too long: the library left it truncated
    }

    private static function errcodeOfException(\Exception $e): mixed
    {
        return $e instanceof WxTokenException ? $e->getErrcode() : $e->getCode();
    }

    private static function errcodeOfResult(mixed $result): mixed
    {
        if (is_array($result)) {
            return $result['errcode'] ?? null;
        }
        if ($result instanceof \stdClass) {
            return $result->errcode ?? null;
        }
        return null;
    }

    /**
     * The $len bytes of $buf as a string; then the bytes (and the NUL) are zeroed, so no
     * token stays in a buffer that is reused, dumped or freed.
     */
    private static function take(CData $buf, int $len): string
    {
        $text = FFI::string($buf, $len);
        FFI::memset($buf, 0, $len + 1);
        return $text;
    }

    private static function cString(mixed $value): string
    {
        return is_string($value) ? $value : ($value === null ? '' : FFI::string($value));
    }

    private static function noNul(string $value, string $what): void
    {
        if (str_contains($value, "\0")) {
            throw self::nulError($what);
        }
    }

    private static function nulError(string $what): InvalidArgumentException
    {
        // The library would see the string cut at the NUL: refuse it instead.
        return new InvalidArgumentException("{$what} contains a NUL byte");
    }
}
