// The chat widget in a real browser (Chromium through playwright-core): /chat/demo.html served by the
// collector, a message typed and sent, the stand-in bot's reply rendered as text (never as HTML), the
// turn on the events stream as a web user turn. Skipped, saying why, only when /usr/bin/chromium is
// absent (`make test` installs it: see the Makefile's chromium target).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { eventsOnStream } from '../../infra/stack/test-nats';
import { channelName } from '../../schemas/events';
import { startChatServer, type ChatServer } from '../helpers/chat-server';

const CHROMIUM = '/usr/bin/chromium';
const SHOP = 'shop-widget';
const KEY = 'wk-widget-test';
const present = existsSync(CHROMIUM);
if (!present)
  console.warn(
    `widget.int.test.ts skipped: ${CHROMIUM} is absent (make chromium, or apt-get install -y chromium)`,
  );
const maybe = present ? describe : describe.skip;

jest.setTimeout(30_000);

maybe('the chat widget in Chromium', () => {
  let server: ChatServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startChatServer({ COLLECTOR_WRITE_KEYS: `${SHOP}:${KEY}` }),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('sends what the shopper types and shows the reply', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(
      `http://${server.base}/chat/demo.html?key=${KEY}&conversation=c-widget-1&anonymousId=a-widget`,
    );
    await page.locator('.shopstream-chat-status', { hasText: 'connected' }).waitFor({ timeout: 10_000 });
    await page.fill('.shopstream-chat-input', 'Do you have <b>red</b> shoes?');
    await page.click('.shopstream-chat-send');
    const bot = page.locator('.shopstream-chat-bot');
    await bot.first().waitFor({ timeout: 10_000 });
    expect(await bot.first().textContent()).toBe('echo: Do you have <b>red</b> shoes?');
    // text, not markup
    expect(await page.locator('.shopstream-chat-bot b').count()).toBe(0);
    expect(await page.locator('.shopstream-chat-user').first().textContent()).toBe(
      'Do you have <b>red</b> shoes?',
    );
    expect(errors).toEqual([]);

    const turns = (await eventsOnStream(server.nc, server.config, 'chat_turn', 5000)).filter(
      (e) => e.chatTurn?.conversationId === 'c-widget-1',
    );
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({ shopId: SHOP, anonymousId: 'a-widget' });
    expect(channelName(turns[0]!.channel)).toBe('web');
    await page.close();
  });
});
