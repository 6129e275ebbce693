import { createPublicKey, createVerify, generateKeyPairSync } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The bundles' GitHub API root, in front of the simulated GitHub
 * (local/sim-github.ts). It records every request (method, path, how it was
 * authenticated) and adds the one route the simulation lacks: GitHub App
 * installation tokens (`POST /app/installations/{id}/access_tokens`). The
 * app's JWT is verified (RS256, against the public half of `privateKeyPem`,
 * `iss` the app id) before a token is issued, so a case with App credentials
 * proves the bundled @octokit/auth-app, whose OAuth parts the build replaces
 * (scripts/build.mjs no-oauth-app), still signs in as an installation.
 */
export interface GitHubRequest {
  method: string;
  path: string;
  authorization: string;
  status: number;
}

export interface GitHubFront {
  url: string;
  requests: GitHubRequest[];
  appId: number;
  privateKeyPem: string;
  /** The installation token issued to the app (GitHub's `ghs_` form). */
  installationToken: string;
  stop(): Promise<void>;
}

function verifyAppJwt(jwt: string, publicKeyPem: string, appId: number): boolean {
  const [header, payload, signature] = jwt.split('.');
  if (!header || !payload || !signature) return false;
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${header}.${payload}`);
  if (!verifier.verify(createPublicKey(publicKeyPem), Buffer.from(signature, 'base64url'))) return false;
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    iss?: unknown;
    exp?: number;
  };
  return (
    String(claims.iss) === String(appId) && typeof claims.exp === 'number' && claims.exp * 1000 > Date.now()
  );
}

export async function startGitHubFront(simUrl: string, installationId: number): Promise<GitHubFront> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const appId = 424242;
  const installationToken = 'ghs_bundletestinstallationtoken0000000';
  const requests: GitHubRequest[] = [];
  const upstream = new URL(simUrl);

  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const record: GitHubRequest = {
      method: request.method ?? 'GET',
      path,
      authorization: String(request.headers.authorization ?? ''),
      status: 0,
    };
    requests.push(record);
    const reply = (status: number, body: unknown) => {
      record.status = status;
      response
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify(body));
    };
    if (record.method === 'POST' && path === `/app/installations/${installationId}/access_tokens`) {
      request.resume();
      const jwt = record.authorization.replace(/^bearer\s+/i, '');
      if (!verifyAppJwt(jwt, publicKeyPem, appId))
        return reply(401, { message: 'A JSON web token could not be decoded' });
      return reply(201, {
        token: installationToken,
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
        permissions: { organization_self_hosted_runners: 'write', actions: 'read' },
        repository_selection: 'all',
      });
    }
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: upstream.host },
      },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', (error) => reply(502, { message: String(error) }));
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    appId,
    privateKeyPem,
    installationToken,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
