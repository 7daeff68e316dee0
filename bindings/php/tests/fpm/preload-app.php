<?php

/**
 * Test-only opcache.preload (FpmAppPreloadTest): an application's own preload script that
 * takes wxtoken's in, as README.md says. PHP has one opcache.preload per pool, so the app's
 * script require_once's wxtoken's preload.php (its classes and the FFI scope), then preloads
 * what it preloads anyway: EasyWeChat (here the shape of its contracts), then
 * WxToken\EasyWeChat\AccessToken, after the interfaces it implements, and the app's own code,
 * compiled with opcache_compile_file() as preloader libraries do.
 */

declare(strict_types=1);

require_once dirname(__DIR__, 2) . '/preload.php';

require_once dirname(__DIR__) . '/EasyWeChat/Contracts.php';   // the app: vendor/w7corp/easywechat/...
require_once dirname(__DIR__, 2) . '/src/EasyWeChat/AccessToken.php';
opcache_compile_file(__DIR__ . '/app-service.php');
