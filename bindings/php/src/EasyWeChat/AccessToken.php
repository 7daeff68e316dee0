<?php

declare(strict_types=1);

namespace WxToken\EasyWeChat;

use EasyWeChat\Kernel\Contracts\RefreshableAccessToken;
use WxToken\WxToken;

/**
 * EasyWeChat 6's access token, from wxtoken: one fetch per app for every PHP-FPM worker,
 * process and host sharing the store, instead of each EasyWeChat cache fetching with the
 * secret (which replaces the token everybody else holds).
 *
 *     $app = new EasyWeChat\OfficialAccount\Application($config);
 *     $app->setAccessToken(WxToken\EasyWeChat\AccessToken::configure($appid, $secret));
 *
 * Implements EasyWeChat\Kernel\Contracts\AccessToken (getToken(), toQuery()) and
 * RefreshableAccessToken (refresh()) of EasyWeChat 6.x (w7corp/easywechat). This file
 * needs EasyWeChat's interfaces loaded (composer require w7corp/easywechat:^6); the rest
 * of the package does not, and preload.php leaves this directory alone.
 */
final class AccessToken implements RefreshableAccessToken
{
    private readonly WxToken $wx;
    /**
     * The token each instance last handed to EasyWeChat (the one a refused request carried),
     * kept outside the object so that var_export(), print_r() and (array) never show it.
     *
     * @var \WeakMap<self, string>|null
     */
    private static ?\WeakMap $handedOut = null;

    /**
     * @param string $app the name of an app configured in wxtoken (WxToken::configure(), or
     *   WXTOKEN_APPID and WXTOKEN_SECRET in the environment)
     * @param WxToken|null $wx the binding to use (default: a new WxToken())
     */
    public function __construct(private readonly string $app, ?WxToken $wx = null)
    {
        $this->wx = $wx ?? new WxToken();
    }

    /**
     * Configures the app in wxtoken (WxToken::configure()) and returns its token. A WeCom
     * application (platform wecom) without a name is named by WxToken::defaultWecomName():
     * the corp id and a hash of its secret, since each application of a corp has its own
     * secret and token (under the corp id alone, the second would replace the first).
     *
     * @param array<string, string|int|null> $options WxToken::configure()'s (store, name...)
     */
    public static function configure(string $appid, #[\SensitiveParameter] string $secret, array $options = [], ?WxToken $wx = null): self
    {
        $wx ??= new WxToken();
        $platform = $options['platform'] ?? (getenv('WXTOKEN_PLATFORM') ?: null);
        if ($platform === 'wecom' && !isset($options['name'])) {
            $options['name'] = $wx->defaultWecomName($appid, $secret);
        }
        return new self($wx->configure($appid, $secret, $options), $wx);
    }

    /** The app's name in wxtoken. */
    public function app(): string
    {
        return $this->app;
    }

    /** A token the platform accepts now (WxToken::get()). */
    public function getToken(): string
    {
        $token = $this->wx->get($this->app);
        self::$handedOut ??= new \WeakMap();
        self::$handedOut[$this] = $token;
        return $token;
    }

    /** @return array{access_token: string} what EasyWeChat merges into every request's query */
    public function toQuery(): array
    {
        return ['access_token' => $this->getToken()];
    }

    /**
     * EasyWeChat's retry strategy calls this after a bad-token answer: the token last handed
     * out is reported to wxtoken (WxToken::invalidate()), so one refresh serves every process
     * that reports it, and a token another process already replaced costs no fetch. Nothing
     * handed out yet: the current token, no refresh.
     *
     * It does not change the token handed out: EasyWeChat resends the query it built once
     * (the refused token) up to http.retry.max_retries times, calling this after each
     * refusal, and only the token it sent may be reported (a report of the new one would
     * force a fetch that replaces everybody's token). Only getToken() hands out.
     */
    public function refresh(): string
    {
        $sent = self::$handedOut[$this] ?? null;
        return $sent === null ? $this->wx->get($this->app) : $this->wx->invalidate($this->app, $sent);
    }

    /**
     * Runs $fn(), whose EasyWeChat requests take the token through toQuery(), once more after
     * a bad-token answer: WxToken::call()'s rule (an errcode 40001, 40014 or 42001 in the
     * array or decoded object $fn returns, or in the exception it throws). Return the
     * decoded answer, e.g. $client->get('...')->toArray(false).
     *
     * @template T
     * @param callable(): T $fn
     * @return T
     */
    public function call(callable $fn): mixed
    {
        return $this->wx->call($this->app, static fn (string $token): mixed => $fn());
    }

    /** @return array<string, string> never the token */
    public function __debugInfo(): array
    {
        return ['app' => $this->app];
    }

    /**
     * Not serializable: a token must not reach a cache, a session or a queue payload, and a
     * copy would report tokens it never handed out. Build one per process (configure()).
     */
    public function __serialize(): array
    {
        throw new \LogicException(self::class . ' cannot be serialized: build one per process');
    }

    /** @param array<mixed> $data */
    public function __unserialize(array $data): void
    {
        throw new \LogicException(self::class . ' cannot be unserialized: build one per process');
    }
}
