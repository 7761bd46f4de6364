// shopstream chat widget: no framework, no build. Include it and call ShopstreamChat.mount:
//   <script src="https://collector.example/chat/widget.js"></script>
//   <script>ShopstreamChat.mount(document.getElementById('chat'), { key: '<public write key>' })</script>
// Options: key (required), server (default: where widget.js came from), conversation (default: a new
// random id kept in localStorage), anonymousId (same), userId + userToken (a logged-in user), productId.
// It opens GET /v1/chat/ws, sends {type:'say', text, clientMsgId}, shows {type:'reply'} frames, and
// resends a message that got no ack when the socket comes back (same clientMsgId: stored once).
(function () {
  'use strict';
  var script = document.currentScript;
  var defaultServer = script && script.src ? new URL(script.src).origin : location.origin;

  function randomId(prefix) {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return (
      prefix +
      Array.prototype.map
        .call(bytes, function (b) {
          return ('0' + b.toString(16)).slice(-2);
        })
        .join('')
    );
  }

  function kept(name, prefix) {
    try {
      var v = localStorage.getItem('shopstream.' + name);
      if (!v) {
        v = randomId(prefix);
        localStorage.setItem('shopstream.' + name, v);
      }
      return v;
    } catch (e) {
      return randomId(prefix);
    }
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; // never innerHTML: replies are text
    return e;
  }

  function mount(root, options) {
    var o = options || {};
    if (!o.key) throw new Error('ShopstreamChat.mount: options.key (a public write key) is required');
    var server = (o.server || defaultServer).replace(/^http/, 'ws');
    var conversation = o.conversation || kept('conversation', 'c-');
    var who = o.userId
      ? '&userId=' + encodeURIComponent(o.userId) + '&userToken=' + encodeURIComponent(o.userToken || '')
      : '&anonymousId=' + encodeURIComponent(o.anonymousId || kept('anonymousId', 'a-'));
    var url =
      server +
      '/v1/chat/ws?conversation=' +
      encodeURIComponent(conversation) +
      '&key=' +
      encodeURIComponent(o.key) +
      who;

    var box = el('div', 'shopstream-chat');
    var log = el('div', 'shopstream-chat-log');
    log.setAttribute('role', 'log');
    log.setAttribute('aria-live', 'polite');
    var form = el('form', 'shopstream-chat-form');
    var input = el('input', 'shopstream-chat-input');
    input.type = 'text';
    input.maxLength = 2000;
    input.placeholder = o.placeholder || 'Ask us anything';
    input.setAttribute('aria-label', 'message');
    var button = el('button', 'shopstream-chat-send', 'Send');
    button.type = 'submit';
    var status = el('div', 'shopstream-chat-status', 'connecting');
    form.appendChild(input);
    form.appendChild(button);
    box.appendChild(log);
    box.appendChild(form);
    box.appendChild(status);
    root.appendChild(box);

    var socket;
    var pending = {}; // clientMsgId -> frame, until acked
    var shown = {}; // reply event ids already shown
    var retryMs = 500;

    function line(role, text) {
      var p = el('div', 'shopstream-chat-' + role, text);
      p.setAttribute('data-role', role);
      log.appendChild(p);
      log.scrollTop = log.scrollHeight;
      return p;
    }

    function connect() {
      socket = new WebSocket(url);
      socket.onopen = function () {
        status.textContent = 'connected';
        retryMs = 500;
        Object.keys(pending).forEach(function (id) {
          socket.send(JSON.stringify(pending[id]));
        });
      };
      socket.onmessage = function (ev) {
        var m;
        try {
          m = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (m.type === 'reply' && !shown[m.eventId]) {
          shown[m.eventId] = true;
          line('bot', m.text);
        } else if (m.type === 'ack') {
          delete pending[m.clientMsgId];
        } else if (m.type === 'error') {
          if (m.clientMsgId) delete pending[m.clientMsgId];
          line('error', m.message);
        }
      };
      socket.onclose = function () {
        status.textContent = 'reconnecting';
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      };
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = '';
      var frame = { type: 'say', text: text, clientMsgId: randomId('m-') };
      if (o.productId) frame.productId = o.productId;
      pending[frame.clientMsgId] = frame;
      line('user', text);
      if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
    });

    connect();
    return {
      conversation: conversation,
      close: function () {
        socket.onclose = null;
        socket.close();
      },
    };
  }

  window.ShopstreamChat = { mount: mount };
})();
