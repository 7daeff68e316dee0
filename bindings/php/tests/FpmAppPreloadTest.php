<?php

declare(strict_types=1);

namespace WxToken\Tests;

/**
 * wxtoken's preload.php inside an application's own opcache.preload script (README.md,
 * "Your own opcache.preload script"): fpm/preload-app.php require_once's it, then preloads
 * EasyWeChat's contracts, WxToken\EasyWeChat\AccessToken and an app class. Under php-fpm
 * with ffi.enable=preload, in each README setup this machine can run.
 */
final class FpmAppPreloadTest extends \PHPUnit\Framework\TestCase
{
    private ?Fpm $fpm = null;

    protected function tearDown(): void
    {
        $this->fpm?->stop();
        $this->fpm = null;
    }

    /** @return array<string, array{string}> */
    public static function setups(): array
    {
        $list = [];
        foreach (Fpm::setups() as $key => $setup) {
            $list[$setup['label']] = [$key];
        }
        return $list;
    }

    /** @dataProvider setups */
    public function testAnAppsPreloadScriptTakesWxtokensIn(string $setup): void
    {
        $this->fpm = new Fpm(Fpm::setups()[$setup], 1, "app-preload-{$setup}");
        $this->fpm->start(Fpm::pkg() . '/tests/fpm/preload-app.php');
        [$appid, $secret] = Mock::next();
        $page = $this->fpm->request(['WXT_APPID' => $appid, 'WXT_SECRET' => $secret, 'WXT_API_BASE' => Mock::base()],
            'easywechat-page.php');
        $this->assertTrue($page['ok'] ?? false, json_encode($page) . $this->fpm->logs());
        $this->assertSame('FFI::scope(WXTOKEN)', $page['via'], "wxtoken's preload declared the scope");
        $this->assertSame([], $page['autoloaded'], 'every class came preloaded');
        foreach (['WxToken\\WxToken', 'WxToken\\EasyWeChat\\AccessToken', 'EasyWeChat\\Kernel\\Contracts\\RefreshableAccessToken', 'AppService'] as $class) {
            $this->assertContains($class, $page['preloaded'], $class);
        }
        $this->assertArrayHasKey('ip_list', $page['check'], json_encode($page['check']));
        $this->assertSame(1, Mock::fetches($appid));
    }
}
