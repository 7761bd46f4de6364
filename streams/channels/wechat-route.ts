// WeChat's callback (official account or mini program customer-service messages, plain-text mode), on
// for a shop when CHAT_WECHAT_TOKEN and CHAT_WECHAT_SHOP are set (otherwise 404):
//   GET  /v1/chat/wechat?signature&timestamp&nonce&echostr   WeChat checks the URL: echostr when signed
//   POST /v1/chat/wechat?signature&timestamp&nonce           a message; 401 when the signature is wrong
// A text message is a user turn: the user is anonymous id `wx.<openid>`, in one conversation per user
// (`wx.<openid>`), its MsgId the client message id (WeChat resends a message it got no answer to, three
// times: the resends are the same turn, answered with the first one's reply when this process saw it). When the bot's reply comes within CHAT_WECHAT_REPLY_WAIT (WeChat
// waits 5 s), it is the passive reply XML; otherwise the answer is "success" (nothing shown) and the
// reply is lost to this user: a real deployment sends late replies with WeChat's customer-service
// message API (an access token and network access to api.weixin.qq.com), which is out of scope here.
// Other message types (images, events) and encrypted messages are answered "success" and not recorded.
import type { FastifyInstance } from 'fastify';
import type { ReplyPayload } from '../processors/chat/processor';
import { CLIENT_MSG_ID_RE } from './hub';
import { deny, queryOf, type ChannelContext } from './plugin';
import { openIdOf, parseWechatXml, verifyWechatSignature, wechatTextReply } from './wechat';

const NOT_CONFIGURED = {
  status: 404,
  code: 'not_found',
  message: 'the WeChat channel is not configured (CHAT_WECHAT_TOKEN, CHAT_WECHAT_SHOP)',
};
const BAD_SIGNATURE = {
  status: 401,
  code: 'bad_signature',
  message: 'the signature is not sha1(sort(token, timestamp, nonce))',
};

export function registerWechat(app: FastifyInstance, ctx: ChannelContext): void {
  const { hub, config, logger } = ctx;
  const token = config.wechatToken;
  const shopId = config.wechatShopId;

  app.get('/v1/chat/wechat', async (req, reply) => {
    if (!token || !shopId) return deny(reply, NOT_CONFIGURED);
    const q = queryOf(req);
    if (!verifyWechatSignature(token, q)) return deny(reply, BAD_SIGNATURE);
    const echo = q['echostr'];
    if (typeof echo !== 'string' || echo.length > 256)
      return deny(reply, { status: 400, code: 'missing_echostr', message: 'echostr is required' });
    return reply.type('text/plain; charset=utf-8').send(echo);
  });

  app.post('/v1/chat/wechat', async (req, reply) => {
    if (!token || !shopId) return deny(reply, NOT_CONFIGURED);
    if (!verifyWechatSignature(token, queryOf(req))) return deny(reply, BAD_SIGNATURE);
    const success = () => reply.type('text/plain; charset=utf-8').send('success');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length > config.maxMessageBytes)
      return deny(reply, { status: 413, code: 'payload_too_large', message: 'the message is too large' });
    const xml = parseWechatXml(body.toString('utf8'), config.maxMessageBytes);
    if (!xml.ok) return deny(reply, { status: 400, code: 'invalid_xml', message: xml.message });
    const f = xml.fields;
    if (f['Encrypt'] !== undefined) {
      logger.warn({ shopId }, 'wechat: an encrypted message; only plain-text mode is supported');
      return success();
    }
    if (f['MsgType'] !== 'text') return success();
    const openId = openIdOf(f['FromUserName']);
    const account = f['ToUserName'] ?? '';
    if (!openId || account === '' || account.length > 64)
      return deny(reply, {
        status: 400,
        code: 'invalid_user',
        message: 'FromUserName and ToUserName are required',
      });
    const msgId = f['MsgId'] && CLIENT_MSG_ID_RE.test(f['MsgId']) ? `wx:${f['MsgId']}` : undefined;
    const conversationId = `wx.${openId}`;

    // listen before the turn is published: the reply may be quicker than the publish's ack
    const replies: ReplyPayload[] = [];
    let wake: (() => void) | undefined;
    const l = hub.listen(shopId, conversationId, (r) => {
      replies.push(r);
      wake?.();
    });
    if (!l.ok) return deny(reply, l.error, 5);
    try {
      const said = await hub.say({
        identity: { shopId, anonymousId: conversationId },
        channel: config.wechatChannel,
        conversationId,
        text: f['Content'],
        ...(msgId ? { clientMsgId: msgId } : {}),
      });
      if (!said.ok) {
        if (said.error.status >= 500) return deny(reply, said.error, 5); // WeChat resends it
        logger.info({ shopId, code: said.error.code }, 'wechat: a message refused');
        return success();
      }
      // a resent message (the same MsgId) finds the reply the first one got, if this process saw it
      const mine = (): ReplyPayload | undefined =>
        [...hub.recentReplies(shopId, conversationId), ...replies].find(
          (r) => r.turnIndex === said.turnIndex + 1,
        );
      const deadline = ctx.now() + config.wechatReplyWaitMs;
      while (!mine() && ctx.now() < deadline)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, deadline - ctx.now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      const answer = mine();
      if (!answer) return success();
      return reply
        .type('application/xml; charset=utf-8')
        .send(wechatTextReply(f['FromUserName']!, account, answer.text, ctx.now()));
    } finally {
      l.value();
    }
  });
}
