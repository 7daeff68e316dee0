<?php

/** An application's class, preloaded by fpm/preload-app.php: it calls the platform with the token EasyWeChat would send. */

declare(strict_types=1);

final class AppService
{
    /** @return array<string, mixed> the platform's answer to a business check */
    public static function check(string $base, EasyWeChat\Kernel\Contracts\AccessToken $token): array
    {
        $url = "{$base}/cgi-bin/get_api_domain_ip?" . http_build_query($token->toQuery());
        $body = file_get_contents($url, false, stream_context_create(['http' => ['timeout' => 5, 'ignore_errors' => true]]));
        return json_decode((string) $body, true) ?? ['unparsable' => $body];
    }
}
