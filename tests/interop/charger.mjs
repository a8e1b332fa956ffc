// A charger played by ocpp-rpc (https://www.npmjs.com/package/ocpp-rpc), an OCPP-J library nobody here wrote, in
// strict mode: every CALL it sends and every answer it gets is validated against the OCPP 1.6 JSON schemas it ships.
// Driven by tests/EvCharge.IntegrationTests/Interop/OcppInteropTests.cs:
//
//   node charger.mjs <scenario> '<options as JSON>'
//
// prints one JSON object with what happened on stdout (the C# test asserts on it and on the grains, ledger and wallet)
// and exits 0; anything unexpected is reported in "error" rather than thrown, so the test shows it.
import { RPCClient } from 'ocpp-rpc';
import { readFileSync } from 'node:fs';

const [scenario, json] = process.argv.slice(2);
const o = JSON.parse(json ?? '{}');
const result = { scenario, strictValidationFailures: [], callErrors: {} };

function client(extra = {}) {
  const wsOpts = {};
  if (o.ca) wsOpts.ca = readFileSync(o.ca);
  if (o.cert) wsOpts.cert = readFileSync(o.cert);
  if (o.key) wsOpts.key = readFileSync(o.key);
  const cli = new RPCClient({
    endpoint: o.endpoint,
    identity: o.identity,
    password: o.password,
    protocols: o.protocols ?? ['ocpp1.6'],
    strictMode: o.strict ?? true,
    reconnect: false,
    callTimeoutMs: 20000,
    wsOpts,
    ...extra,
  });
  cli.on('strictValidationFailure', e => result.strictValidationFailures.push({ method: e.method, outbound: e.outbound, error: String(e.error?.message ?? e.error) }));
  // Answers to frames sent with sendRaw are "responses to calls never made" for the library: it reports them here.
  cli.on('message', ({ message, outbound }) => {
    if (outbound) return;
    try {
      const frame = JSON.parse(message.toString());
      if (Array.isArray(frame) && frame[0] === 4) result.callErrors[frame[1]] = frame[2];
    } catch { /* not ours to judge */ }
  });
  return cli;
}

const ts = (minutes = 0) => new Date(Date.UTC(2026, 10, 25, 1, minutes, 0)).toISOString();

async function connect(cli) {
  try {
    await cli.connect();
    result.connected = true;
    result.protocol = cli.protocol;
    return true;
  } catch (e) {
    result.connected = false;
    result.status = e.code ?? null;
    result.connectError = String(e.message ?? e);
    return false;
  }
}

async function boot(cli) {
  const b = await cli.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop', firmwareVersion: '2.2.1' });
  result.boot = b.status;
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: ts() });
  result.heartbeat = (await cli.call('Heartbeat', {})).currentTime;
}

async function authorizeAndStart(cli, meterStart) {
  const auth = await cli.call('DataTransfer', {
    vendorId: 'kr.evcharge', messageId: 'PaymentAuthorize',
    data: JSON.stringify({ connectorId: 1, provider: 'kakaopay', paymentCode: o.paymentCode }),
  });
  result.authorizeStatus = auth.status;
  const answer = JSON.parse(auth.data);
  result.reference = answer.authorizationReference;
  result.holdAmount = answer.holdAmount;
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: ts() });
  const start = { connectorId: 1, idTag: result.reference, meterStart, timestamp: ts() };
  const started = await cli.call('StartTransaction', start);
  result.transactionId = started.transactionId;
  result.startStatus = started.idTagInfo.status;
  await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: ts() });
  return start;
}

const meter = (transactionId, wh, minute) => ({
  connectorId: 1, transactionId,
  meterValue: [{ timestamp: ts(minute), sampledValue: [{ value: String(wh), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' }] }],
});

/** Sends raw text (what strict mode would never let out) and waits until its CALLERROR arrives. */
async function raw(cli, text, id) {
  cli.sendRaw(text);
  for (let i = 0; i < 100 && !(id in result.callErrors); i++) await new Promise(r => setTimeout(r, 50));
}

const scenarios = {
  // Profile 1/2/3 login, a complete paid charge with retries of Start/Stop, an unknown transaction, malformed frames.
  async 'paid-charge'() {
    const cli = client();
    if (!await connect(cli)) return;
    await boot(cli);
    const start = await authorizeAndStart(cli, 1000);
    const tx = result.transactionId;
    // OCPP 1.6 §3.7: the charger did not get the answer and sends StartTransaction again: same transaction.
    result.repeatedStartTransactionId = (await cli.call('StartTransaction', start)).transactionId;
    await cli.call('MeterValues', meter(tx, 5000, 10));
    await cli.call('MeterValues', meter(tx, 9000, 20));
    const fee = await cli.call('DataTransfer', {
      vendorId: 'kr.evcharge', messageId: 'ChargerFee', data: JSON.stringify({ transactionId: tx, fee: 3704, energyWh: 12345 }),
    });
    result.feeStatus = fee.status;
    const stop = { transactionId: tx, idTag: result.reference, meterStop: 13345, timestamp: ts(40), reason: 'EVDisconnected' };
    result.stopStatus = (await cli.call('StopTransaction', stop)).idTagInfo?.status;
    result.repeatedStopStatus = (await cli.call('StopTransaction', stop)).idTagInfo?.status ?? 'confirmed';
    await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: ts(40) });
    // A transaction the server never issued: confirmed all the same (and kept for reconciliation).
    const unknown = await cli.call('StopTransaction', { transactionId: 987654, meterStop: 600, timestamp: ts(50) });
    result.unknownStopConfirmed = unknown !== undefined && unknown !== null;

    await raw(cli, 'this is not json', '-1');
    await raw(cli, '[2,"bad-2","Heartbeat"]', 'bad-2');
    await raw(cli, '[2,"bad-3","Teleport",{}]', 'bad-3');
    await raw(cli, '[2,"bad-4","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]', 'bad-4');
    await raw(cli, '[2,"bad-5","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]', 'bad-5');
    // Still the same connection, still served.
    result.heartbeatAfterMalformed = (await cli.call('Heartbeat', {})).currentTime;
    await cli.close({ code: 1000 });
  },

  // The running cost reaches the hold: the server's RemoteStopTransaction must pass the client's strict schema too.
  async 'remote-stop'() {
    const cli = client();
    const remoteStop = new Promise(resolve => cli.handle('RemoteStopTransaction', ({ params }) => { resolve(params); return { status: 'Accepted' }; }));
    if (!await connect(cli)) return;
    await boot(cli);
    await authorizeAndStart(cli, 0);
    await cli.call('MeterValues', meter(result.transactionId, o.meterWh, 15));
    result.remoteStop = await Promise.race([remoteStop, new Promise(r => setTimeout(() => r(null), 20000))]);
    if (result.remoteStop) {
      result.stopStatus = (await cli.call('StopTransaction', {
        transactionId: result.transactionId, idTag: result.reference, meterStop: o.meterWh, timestamp: ts(16), reason: 'Remote',
      })).idTagInfo?.status;
    }
    await cli.close({ code: 1000 });
  },

  // Only the handshake: wrong password, unknown subprotocol, another charger's certificate, a profile mismatch.
  async 'connect'() {
    const cli = client();
    if (await connect(cli)) {
      result.boot = (await cli.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop' })).status;
      await cli.close({ code: 1000 });
    }
  },
};

try {
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  await scenarios[scenario]();
} catch (e) {
  result.error = `${e.name ?? 'Error'}: ${e.message ?? e}${e.rpcErrorCode ? ` (${e.rpcErrorCode})` : ''}`;
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
