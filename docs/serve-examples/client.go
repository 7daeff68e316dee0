// wxtoken serve from Go (net/http, standard library only).
//
//	c := &TokenClient{Base: "http://127.0.0.1:8700", Key: key, App: "shop"}
//	token, err := c.Token()
//	// a business call answered 40001 / 40014 / 42001 for token:
//	token, err = c.Invalidate(token)
package wxtokenclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

type TokenClient struct {
	Base, Key, App string
	HTTP           *http.Client
}

type answer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Generation  uint64 `json:"generation"`
	Error       *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *TokenClient) Token() (string, error) {
	return c.call(http.MethodGet, "token", nil)
}

func (c *TokenClient) Invalidate(bad string) (string, error) {
	body, _ := json.Marshal(map[string]string{"bad_token": bad})
	return c.call(http.MethodPost, "invalidate", body)
}

func (c *TokenClient) call(method, what string, body []byte) (string, error) {
	req, err := http.NewRequest(method, c.Base+"/v1/apps/"+c.App+"/"+what, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Content-Type", "application/json")
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return "", err
	}
	if a.Error != nil {
		return "", fmt.Errorf("wxtoken serve: %d %s: %s", resp.StatusCode, a.Error.Code, a.Error.Message)
	}
	return a.AccessToken, nil
}
