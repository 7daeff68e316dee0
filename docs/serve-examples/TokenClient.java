// wxtoken serve from Java 11+ (java.net.http, no dependencies).
//   var c = new TokenClient(URI.create("http://127.0.0.1:8700"), key, "shop");
//   String token = c.token();
//   // a business call answered 40001 / 40014 / 42001 for `token`:
//   token = c.invalidate(token);
// Parse the JSON with the library you already use; a regex keeps this short.
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class TokenClient {
    private static final Pattern TOKEN = Pattern.compile("\"access_token\":\"([^\"]+)\"");
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI base;
    private final String auth;

    public TokenClient(URI server, String key, String app) {
        this.base = server.resolve("/v1/apps/" + app + "/");
        this.auth = "Bearer " + key;
    }

    public String token() throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(base.resolve("token")).GET());
    }

    public String invalidate(String badToken) throws IOException, InterruptedException {
        String body = "{\"bad_token\":\"" + badToken + "\"}";
        return send(HttpRequest.newBuilder(base.resolve("invalidate"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private String send(HttpRequest.Builder req) throws IOException, InterruptedException {
        HttpResponse<String> resp = http.send(
                req.header("Authorization", auth).timeout(Duration.ofSeconds(15)).build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = TOKEN.matcher(resp.body());
        if (resp.statusCode() != 200 || !m.find()) {
            throw new IOException("wxtoken serve: " + resp.statusCode() + " " + resp.body());
        }
        return m.group(1);
    }
}
