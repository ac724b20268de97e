package kafkaops.test;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

/**
 * A stand-in for MSK's IAM listener (kafkaops tests only): accepts an OAUTHBEARER token only if
 * it is what aws-msk-iam-sasl-signer-python makes for this listener's region -- base64url of a
 * SigV4-presigned https://kafka.REGION.amazonaws.com/?Action=kafka-cluster:Connect URL, scope
 * AKID/DATE/REGION/kafka-cluster/aws4_request, signed now, not expired.  The signature itself
 * cannot be checked without the secret key (AWS does that); its shape is.  JAAS option: region.
 */
public class MskIamTokenValidator implements AuthenticateCallbackHandler {
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");
    private String region;

    @Override
    public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> jaas) {
        region = (String) jaas.get(0).getOptions().get("region");
        if (region == null) throw new IllegalArgumentException("JAAS option region is required");
    }

    @Override
    public void close() {}

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof OAuthBearerValidatorCallback v) {
                try {
                    v.token(validate(v.tokenValue()));
                } catch (RuntimeException e) {
                    System.err.println("MskIamTokenValidator(" + region + ") rejected: " + e.getMessage());
                    v.error("invalid_token", null, null);
                }
            } else if (cb instanceof OAuthBearerExtensionsValidatorCallback e) {
                e.inputExtensions().map().keySet().forEach(e::valid);
            } else {
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    private static void require(boolean ok, String what) {
        if (!ok) throw new IllegalArgumentException(what);
    }

    OAuthBearerToken validate(String token) {
        URI uri = URI.create(new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8));
        require("https".equals(uri.getScheme()), "scheme " + uri.getScheme());
        require(("kafka." + region + ".amazonaws.com").equals(uri.getHost()), "host " + uri.getHost());
        Map<String, String> q = new HashMap<>();
        for (String pair : uri.getRawQuery().split("&")) {
            String[] kv = pair.split("=", 2);
            q.put(URLDecoder.decode(kv[0], StandardCharsets.UTF_8),
                  kv.length > 1 ? URLDecoder.decode(kv[1], StandardCharsets.UTF_8) : "");
        }
        require("kafka-cluster:Connect".equals(q.get("Action")), "Action " + q.get("Action"));
        require("AWS4-HMAC-SHA256".equals(q.get("X-Amz-Algorithm")), "algorithm");
        String[] scope = q.getOrDefault("X-Amz-Credential", "").split("/");
        require(scope.length == 5 && scope[2].equals(region) && scope[3].equals("kafka-cluster")
                && scope[4].equals("aws4_request"), "credential scope " + q.get("X-Amz-Credential"));
        require("host".equals(q.get("X-Amz-SignedHeaders")), "signed headers");
        require(q.getOrDefault("X-Amz-Signature", "").matches("[0-9a-f]{64}"), "signature");
        require(q.getOrDefault("User-Agent", "").startsWith("aws-msk-iam-sasl-signer-python/"), "user agent");
        Instant signed = LocalDateTime.parse(q.get("X-Amz-Date"), AMZ_DATE).toInstant(ZoneOffset.UTC);
        long expiresS = Long.parseLong(q.get("X-Amz-Expires"));
        Instant now = Instant.now();
        require(!signed.isAfter(now.plusSeconds(300)), "signed in the future");
        require(now.isBefore(signed.plusSeconds(expiresS)), "expired");
        final String principal = scope[0];
        final long start = signed.toEpochMilli();
        final long end = signed.plusSeconds(expiresS).toEpochMilli();
        return new OAuthBearerToken() {
            public String value() { return token; }
            public Set<String> scope() { return Set.of(); }
            public long lifetimeMs() { return end; }
            public String principalName() { return principal; }
            public Long startTimeMs() { return start; }
        };
    }
}
