<?php

/*
 * The shape of EasyWeChat 6.x's access-token contracts (w7corp/easywechat,
 * src/Kernel/Contracts/AccessToken.php and RefreshableAccessToken.php), declared here
 * because the package cannot be installed offline. WxToken\EasyWeChat\AccessToken is
 * written against these two interfaces only. With EasyWeChat installed its own
 * declarations win (this file declares nothing then).
 */

declare(strict_types=1);

namespace EasyWeChat\Kernel\Contracts;

if (!interface_exists(AccessToken::class)) {
    interface AccessToken
    {
        public function getToken(): string;

        /**
         * @return array<string,string>
         */
        public function toQuery(): array;
    }
}

if (!interface_exists(RefreshableAccessToken::class)) {
    interface RefreshableAccessToken extends AccessToken
    {
        public function refresh(): string;
    }
}
