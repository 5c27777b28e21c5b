// The seed document's chat server ("Lets update our server app"), as written there, on the port given by
// --port: the Node.js reference for the demo app that `fastio` runs by default.
import { Server } from "socket.io";

const i = process.argv.indexOf("--port");
const port = i >= 0 ? Number(process.argv[i + 1]) : 8080;
const socketServer = new Server(port, { cors: { origin: "*" } });

let count = 0;

socketServer.on("connection", (socket) => {
  socket.broadcast.emit("notification", {
    id: socket.id,
    message: "a new user has joined",
  });

  console.log(`total connections`, ++count);

  socket.on("message", (data) => {
    socketServer.emit("notification", {
      ...data,
      type: "user_message",
      timestamp: new Date().toUTCString(),
    });
  });

  socket.on("disconnect", () => {
    console.log(`total connections`, --count);
  });
});
